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


def test_the_cli_and_the_runtime_know_the_same_adapters_and_toolkit_modules() -> None:
    from lit_runtime import adapters
    from lit_runtime.adapters import sagemaker_toolkit

    from lit import archive_sagemaker

    assert set(adapters.KINDS) == set(project.ADAPTERS)
    assert archive_sagemaker.STAND_IN == set(sagemaker_toolkit.MODULES)


def test_the_cli_and_the_runtime_read_protobuf_varints_alike() -> None:
    """lit/onnx_graph.py reads a graph without ONNX Runtime; the runtime's onnxrt.py reads the opset
    without the onnx package: each has its varint reader, and they must agree."""
    import mmap
    import tempfile

    from lit_runtime import onnxrt

    from lit import onnx_graph

    values = [0, 1, 127, 128, 300, 2**21 + 5, 2**35 - 1]
    data = b""
    for value in values:
        while True:
            byte, value = value & 0x7F, value >> 7
            data += bytes([byte | (0x80 if value else 0)])
            if not value:
                break
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.flush()
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        pos_a = pos_b = 0
        for want in values:
            (a, pos_a), (b, pos_b) = onnx_graph._varint(mapped, pos_a), onnxrt._varint(data, pos_b)
            assert a == b == want and pos_a == pos_b
        mapped.close()
