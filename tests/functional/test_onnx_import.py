"""The build-time ONNX conversion, in-process (onnx and mxnet on the host)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit import build
from tests.fixtures import onnx_models

pytestmark = pytest.mark.functional
pytest.importorskip("onnx")
mx = pytest.importorskip("mxnet")
np = pytest.importorskip("numpy")

from lit_runtime import model  # noqa: E402
from lit_runtime.errors import InputError  # noqa: E402
from lit_runtime.onnx_import import ConversionError, convert, main  # noqa: E402


def test_initializers_missing_from_inputs_still_import(tmp_path: Path) -> None:
    src = onnx_models.linear_without_initializer_inputs(tmp_path / "linear.onnx")
    meta = convert(src, tmp_path / "out")
    assert meta["inputs"] == ["x"]
    net = model.load_block(tmp_path / "out")
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    expected = x @ w.T + np.array([1.0, -1.0, 0.5], np.float32)
    assert np.allclose(net(mx.nd.array(x)).asnumpy(), expected, atol=1e-5)
    assert json.loads((tmp_path / "out" / "lit-inputs.json").read_text())["opset"] == 11


def test_unsupported_operator_is_named_with_its_opset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = onnx_models.with_unsupported_op(tmp_path / "erf.onnx", opset=13)
    with pytest.raises(ConversionError, match=r"operator Erf \(ONNX opset 13\)"):
        convert(src, tmp_path / "out")
    assert main([str(src), str(tmp_path / "out2")]) == 1
    out = capsys.readouterr()
    assert "operator Erf (ONNX opset 13)" in build.tool_failures(out.out.splitlines())["convert"]
    assert "convert failed: operator Erf (ONNX opset 13)" in out.err
    assert not (tmp_path / "out").exists()


def test_not_an_onnx_file(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "broken.onnx").write_bytes(b"\x00\x01 definitely not protobuf")
    with pytest.raises(ConversionError, match="not a readable ONNX model"):
        convert(tmp_path / "m", tmp_path / "out")


def test_named_inputs_and_warm_up_from_the_graph(tmp_path: Path) -> None:
    from tests.conftest import batch_event, start_app

    src = onnx_models.two_inputs(tmp_path / "two.onnx")
    convert(src, tmp_path / "model")
    (tmp_path / "lit.toml").write_text(
        # the model directory holds the conversion's output, as the image does
        'name = "two"\n[model]\npath = "model"\nformat = "mxnet"\ninput = "tensor"\n'
    )
    (tmp_path / "service.py").write_text(
        "from lit_runtime import defaults\n"
        "def inference(batch, context):\n"
        "    context.state.setdefault('calls', []).append(sorted(batch) if isinstance(batch, dict) else None)\n"
        "    return defaults.inference(batch, context)\n"
    )
    app = start_app(tmp_path)
    assert app.ctx.state["calls"] == [["x", "y"]], "warmed at init with the graph's shapes"
    answer = app.handle({"input": {"x": [1.0, 2.0, 3.0], "y": [0.5, 0.5, 0.5]}})
    assert answer["predictions"] == [[2.5, 4.5, 6.5]]
    with pytest.raises(InputError, match="missing input 'y'"):
        app.handle({"input": {"x": [1.0, 2.0, 3.0]}})
    event = batch_event("sqs-batch", [b"", b""])
    event["Records"][0]["body"] = json.dumps({"input": {"x": [1, 1, 1], "y": [0, 0, 0]}})
    event["Records"][1]["body"] = json.dumps(
        {"inputs": [{"x": [0, 0, 0], "y": [1, 2, 3]}, {"x": [1, 0, 0], "y": [0, 0, 0]}]}
    )
    app.ctx.state["calls"] = []
    answer = app.handle(event)
    assert app.ctx.state["calls"] == [["x", "y"]], "one forward pass for the batch"
    assert [r["predictions"] for r in answer["results"]] == [[[2, 2, 2]], [[1, 2, 3], [2, 0, 0]]]
