"""LIT: pack trained models into AWS Lambda container images, run them locally, deploy them."""

__version__ = "0.1.0"
