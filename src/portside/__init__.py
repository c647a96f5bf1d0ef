"""portside: a self-hosted, AWS-compatible container cloud."""

__version__ = "0.1.0"
