"""TorchServe's `ts` package as LIT's images provide it: what handlers import, without PyTorch."""

__version__ = "0.12.0"
