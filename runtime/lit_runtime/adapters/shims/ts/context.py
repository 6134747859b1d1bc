"""ts.context: the objects TorchServe hands a handler (lit_runtime.adapters._server)."""

from lit_runtime.adapters._server import Context, RequestProcessor

__all__ = ["Context", "RequestProcessor"]
