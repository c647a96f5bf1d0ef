"""Amazon S3: buckets, streamed objects, versions, multipart uploads, tags, notifications."""
