"""Multi Model Server's `mms` package as LIT's images provide it: what handlers import."""

__version__ = "1.1.11"
