"""The runtime cannot import the CLI, so it keeps its own copies of a few Lambda facts: each must
equal the one home of that fact, lit/lambda_limits.py."""

from __future__ import annotations

import pytest
from lit_runtime import answers, buildtool, events, oversize, threads

from lit import build, local, project
from lit import lambda_limits as limits

pytestmark = pytest.mark.unit


def test_the_runtimes_copies_of_lambdas_facts_equal_their_home() -> None:
    assert threads.MB_PER_VCPU == project.MB_PER_VCPU == local.MB_PER_VCPU == limits.MB_PER_VCPU
    sizes = {answers.MAX_RESPONSE_BYTES, events.MAX_BODY_BYTES, oversize.MAX_PAYLOAD, local.MAX_PAYLOAD}
    assert sizes == {limits.SYNC_PAYLOAD}


def test_the_build_tools_result_mark_is_the_one_lit_build_reads() -> None:
    assert buildtool.MARK == build.RESULT
