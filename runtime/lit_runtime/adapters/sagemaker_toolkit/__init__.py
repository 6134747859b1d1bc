"""A compatible stand-in for the `sagemaker_inference` package, for handlers that import it.

SageMaker's framework containers carry sagemaker-inference (1.10.1 here); LIT's images do not.
Installing the real package would make the image half as big again: it requires scipy (146 MB
installed), boto3 and botocore (35 MB), psutil, retrying and six, and comes only as an sdist. So the
adapter (sagemaker.py) registers this package as `sagemaker_inference` when the image has no real
one: the modules handlers import (content_types, decoder, encoder, errors, utils,
default_inference_handler, environment, parameters), with the same names and behaviour. A project
that lists sagemaker-inference in requirements.txt gets the real package instead.

Differences, on purpose: an .npy body is read without pickle (the real decoder allows pickles, which
run code from the request), and an .npz body needs scipy in requirements.txt (the real package always
has it).
"""

MODULES = (
    "content_types",
    "parameters",
    "errors",
    "utils",
    "environment",
    "decoder",
    "encoder",
    "default_inference_handler",
)
