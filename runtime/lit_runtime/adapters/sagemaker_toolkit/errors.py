"""The toolkit's exceptions (sagemaker_inference.errors). The adapter answers a toolkit error with
its status code, and an UnsupportedFormatError as 415 (SageMaker answers it as 500)."""

from __future__ import annotations

import textwrap
from typing import Any


class UnsupportedFormatError(Exception):
    """An unsupported content type was provided."""

    def __init__(self, content_type: str, **kwargs: Any) -> None:
        self._message = textwrap.dedent(
            f"""Content type {content_type} is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README."""
        )
        super().__init__(self._message, **kwargs)


def by_content_type(table: dict[str, Any], content_type: str) -> Any:
    """The decoder or encoder for a content type; UnsupportedFormatError for one the table lacks."""
    try:
        return table[content_type]
    except KeyError:
        raise UnsupportedFormatError(content_type) from None


class BaseInferenceToolkitError(Exception):
    """A problem during inference, answered with status_code and message."""

    def __init__(self, status_code: int, message: str, phrase: str) -> None:
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    def __init__(self, status_code: int, message: str | None = None, phrase: str | None = None) -> None:
        message = message or "Invalid Request"
        phrase = phrase or message
        super().__init__(status_code, message, phrase)
