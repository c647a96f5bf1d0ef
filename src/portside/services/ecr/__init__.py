"""Amazon ECR: the ECR API and the OCI distribution API (the registry), blobs in S3 storage."""
