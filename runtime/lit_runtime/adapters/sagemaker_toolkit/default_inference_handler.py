"""The toolkit's defaults for the functions inference.py leaves out
(sagemaker_inference.default_inference_handler)."""

from __future__ import annotations

import textwrap
from typing import Any

from . import decoder, encoder, errors, utils


class DefaultInferenceHandler:
    def default_model_fn(self, model_dir: str, context: Any = None) -> Any:
        raise NotImplementedError(
            textwrap.dedent(
                """
            Please provide a model_fn implementation.
            See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/
            """
            )
        )

    def default_input_fn(self, input_data: Any, content_type: str, context: Any = None) -> Any:
        return decoder.decode(input_data, content_type)

    def default_predict_fn(self, data: Any, model: Any, context: Any = None) -> Any:
        raise NotImplementedError(
            textwrap.dedent(
                """
            Please provide a predict_fn implementation.
            See documentation for predict_fn at https://sagemaker.readthedocs.io/en/stable/
            """
            )
        )

    def default_output_fn(self, prediction: Any, accept: str, context: Any = None) -> Any:
        for content_type in utils.parse_accept(accept):
            if content_type in encoder.SUPPORTED_CONTENT_TYPES:
                return encoder.encode(prediction, content_type), content_type
        raise errors.UnsupportedFormatError(accept)
