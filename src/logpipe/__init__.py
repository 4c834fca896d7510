"""logpipe: AWS security-log pipelines into Amazon OpenSearch Service."""

__version__ = "0.1.0"
