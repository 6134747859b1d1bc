"""The serving environment (sagemaker_inference.environment). model_dir and code_dir are where LIT
keeps them (the adapter sets them at init), not SageMaker's /opt/ml/model."""

from __future__ import annotations

import os

from . import content_types, parameters

DEFAULT_MODULE_NAME = "inference.py"
SAGEMAKER_BASE_PATH = os.path.join("/opt", "ml")
base_dir = os.environ.get(parameters.BASE_PATH_ENV, SAGEMAKER_BASE_PATH)
model_dir = os.path.join(base_dir, "model")
code_dir = os.path.join(model_dir, "code")


class Environment:
    """The SAGEMAKER_* settings that still mean something in a Lambda function."""

    def __init__(self) -> None:
        self._module_name = os.environ.get(parameters.USER_PROGRAM_ENV, DEFAULT_MODULE_NAME)
        self._default_accept = os.environ.get(parameters.DEFAULT_INVOCATIONS_ACCEPT_ENV, content_types.JSON)

    @property
    def module_name(self) -> str:
        name = self._module_name
        return name[:-3] if name.endswith(".py") else name

    @property
    def default_accept(self) -> str:
        return self._default_accept
