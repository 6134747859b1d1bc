#!/bin/sh
# Same contract as AWS's base images: on Lambda (AWS_LAMBDA_RUNTIME_API set) run the runtime
# interface client; anywhere else run it under the Runtime Interface Emulator on port 8080.
if [ $# -eq 0 ]; then set -- lit_runtime.handler.handler; fi
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  export LIT_UNDER_RIE=1
  exec /usr/local/bin/aws-lambda-rie /opt/lit/bin/python -m awslambdaric "$@"
fi
exec /opt/lit/bin/python -m awslambdaric "$@"
