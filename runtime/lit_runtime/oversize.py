"""Requests over Lambda's 6 MB, as `lit run` sees them."""

from __future__ import annotations

from typing import Any

MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's limit on a synchronous request


def refuse_oversized() -> None:
    """Lambda refuses a request over 6 MB at its front door (413 RequestEntityTooLargeException);
    the RIE that `lit run` uses cuts it off at 6 MB instead, and awslambdaric then fails on the
    truncated JSON (Runtime.UnmarshalError: Unterminated string). Say what Lambda says. On Lambda
    such a request never arrives, so this changes nothing there."""
    try:
        from awslambdaric.lambda_runtime_exception import FaultException
        from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller
    except ImportError:  # run outside awslambdaric (tests, lit_runtime.check)
        return
    unmarshal = LambdaMarshaller.unmarshal_request
    if getattr(unmarshal, "lit", False):
        return

    def unmarshal_request(self: Any, request: Any, content_type: str = "application/json") -> Any:
        try:
            return unmarshal(self, request, content_type)
        except FaultException:
            if len(request) >= MAX_PAYLOAD:
                raise FaultException(
                    "RequestEntityTooLargeException",
                    f"Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation "
                    "(Lambda's 6 MB limit; the local emulator cut this one off)",
                    None,
                ) from None
            raise

    unmarshal_request.lit = True  # type: ignore[attr-defined]
    LambdaMarshaller.unmarshal_request = unmarshal_request
