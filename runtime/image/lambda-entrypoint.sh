#!/bin/sh
# Same contract as AWS's base images: on Lambda (AWS_LAMBDA_RUNTIME_API set) run the runtime
# interface client; anywhere else run it under the Runtime Interface Emulator on port 8080 (with
# LIT_SNAPSTART_EMULATE=1, through lit_runtime.restore_api, which adds SnapStart's restore lifecycle).
if [ $# -eq 0 ]; then set -- lit_runtime.handler.handler; fi
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  export LIT_UNDER_RIE=1
  if [ "${LIT_SNAPSTART_EMULATE}" = 1 ]; then  # `lit run --snapstart`: the RIE has no restore API
    exec /usr/local/bin/aws-lambda-rie /opt/lit/bin/python -m lit_runtime.restore_api "$@"
  fi
  exec /usr/local/bin/aws-lambda-rie /opt/lit/bin/python -m awslambdaric "$@"
fi
exec /opt/lit/bin/python -m awslambdaric "$@"
