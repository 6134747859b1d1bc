"""Lambda's limits and facts, as AWS documents them: the one home that lit.toml's checks, the
planner and the local tools read (Lambda developer guide, "Lambda quotas"; API reference for
CreateFunction, TagResource and PutFunctionConcurrency)."""

from __future__ import annotations

import re

SYNC_PAYLOAD = 6 * 1024 * 1024  # a synchronous invoke's request, and its response
MB_PER_VCPU = 1769  # one full vCPU at 1,769 MB; CPU scales with memory
MEMORY_MB = (128, 10240)
TIMEOUT_S = (1, 900)
EPHEMERAL_MB = (512, 10240)
# SnapStart ("Improving startup performance with Lambda SnapStart"): no provisioned concurrency,
# no EFS, at most 512 MB of ephemeral storage; after-restore hooks get 10 s.
SNAPSTART_EPHEMERAL_MB = 512
SNAPSTART_RESTORE_HOOKS_S = 10
# A function name LIT accepts: lowercase letters and digits, joined by "_", "__" or runs of "-" (an
# image name's path component), so that it is also an image name (lit-NAME) and a role name.
NAME = re.compile(r"^(?=.{1,64}$)[a-z0-9]+(?:(?:__?|-+)[a-z0-9]+)*$")
ENV_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")  # Lambda's pattern: two characters at least
ENV_BYTES = 4096  # all of a function's variables together, names and values
TAGS = 50  # per function, the tags LIT adds included
LIT_TAGS = 4  # the tags LIT adds to a function: lit:managed, lit:tags, lit:model, lit:url
TAG_KEY = 128
TAG_VALUE = 256
TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$")  # letters, digits, spaces and _ . : / = + - @
UNRESERVED_MIN = 100  # the account's concurrency that reserved concurrency may never take
SUBNETS = 16
SECURITY_GROUPS = 5
SUBNET = re.compile(r"subnet-([0-9a-f]{8}|[0-9a-f]{17})")
SECURITY_GROUP = re.compile(r"sg-([0-9a-f]{8}|[0-9a-f]{17})")
# Variables Lambda sets itself and refuses in a function's configuration.
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


def env_bytes(environment: dict[str, str]) -> int:
    """The size Lambda counts against ENV_BYTES: each name and value, in UTF-8."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in environment.items())
