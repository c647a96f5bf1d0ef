"""The wire layer: botocore-model-driven parsers and serializers, and AWS errors."""
