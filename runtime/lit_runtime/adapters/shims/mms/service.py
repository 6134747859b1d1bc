"""mms.service: PredictionException, which a handler raises to answer with its own status."""

from lit_runtime.adapters._server import PredictionException

__all__ = ["PredictionException"]
