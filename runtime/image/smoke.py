"""Smoke test of a freshly built base image (`smoke.py ENGINE`): every native piece loads and
computes; on the MXNet base, mxnet is imported through the compiled operator cache
(lit_runtime.fastmx) and OpenCV decodes; on the ONNX Runtime base, mxnet and OpenCV are absent, a
session runs a graph without the libonnxruntime.so that slim.sh removes, Pillow decodes every format
LIT's light decoder serves (with the plugins slim.sh keeps), and numpy's LAPACK answers."""
# isort: skip_file

import importlib.util
import sys
import time

engine = sys.argv[1] if len(sys.argv) > 1 else "mxnet"
t0 = time.perf_counter()
if engine == "mxnet":
    from lit_runtime import fastmx

    state = fastmx.install()
    assert state is not None, "the compiled operator cache is missing or stale"
    import mxnet as mx

    y = mx.nd.dot(mx.nd.ones((4, 4)), mx.nd.ones((4, 4))).asnumpy()
    assert (y == 4).all()
    assert state.hits > 2000 and state.misses == 0, (state.hits, state.misses)
    assert mx.sym.FullyConnected.__doc__ and "num_hidden" in mx.sym.FullyConnected.__doc__
    version = f"mxnet {mx.__version__}"
elif engine == "onnxruntime":
    import base64
    import io

    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    from lit_runtime import pixels

    for absent in ("mxnet", "cv2"):
        assert importlib.util.find_spec(absent) is None, f"the ONNX Runtime base must not carry {absent}"
    assert "CPUExecutionProvider" in ort.get_available_providers()
    # MatMul by [[1, 2], [3, 4]] then Relu (opset 13), 117 bytes written by onnx.helper
    graph = base64.b64decode(
        "CAg6awoRCgF4CgF3EgFtIgZNYXRNdWwKDAoBbRIBeSIEUmVsdRIFc21va2UqGwgCCAIQAUIBd0oQAACAPwAAAEAAAEBAAACAQFoRCgF4"
        "EgwKCggBEgYKAAoCCAJiEQoBeRIMCgoIARIGCgAKAggCQgQKABAN"
    )
    y = ort.InferenceSession(graph, providers=["CPUExecutionProvider"]).run(
        None, {"x": np.array([[1.0, -1.0], [1.0, 1.0]], np.float32)}
    )[0]
    assert np.array_equal(y, [[0.0, 0.0], [4.0, 6.0]]), y
    assert pixels.backend() == "pillow"
    rgb = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    for fmt in pixels.FORMATS:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(
            buf, fmt, **({"lossless": True} if fmt == "WEBP" else {"quality": 95} if fmt == "JPEG" else {})
        )
        got = pixels.decode_pillow(buf.getvalue(), False, 1 << 20)
        assert got is not None and got.shape == (8, 8, 3), fmt
        assert fmt == "JPEG" or np.array_equal(got, rgb[..., ::-1]), fmt
    assert pixels.resize_area_numpy(rgb, (4, 4)).shape == (4, 4, 3)
    try:  # a TIFF (whose header imagesize.py does not read) over the limit: Pillow's own ceiling refuses it
        buf = io.BytesIO()
        Image.new("L", (64, 64)).save(buf, "TIFF")
        pixels.decode_pillow(buf.getvalue(), True, 1000)
        raise AssertionError("a 64x64 image passed a 1,000-pixel limit")
    except pixels.TooLarge:
        pass
    version = f"onnxruntime {ort.__version__}, Pillow {Image.__version__}"
else:
    raise SystemExit(f"unknown engine {engine!r}")

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import awslambdaric  # noqa: E402,F401
import lit_runtime.app  # noqa: E402,F401

a = np.array([[4.0, 1.0], [2.0, 3.0]])
if engine == "mxnet":
    import cv2

    ok, png = cv2.imencode(".png", np.arange(64, dtype=np.uint8).reshape(8, 8))
    assert ok and cv2.imdecode(png, cv2.IMREAD_GRAYSCALE).shape == (8, 8)
    ok, x = cv2.solve(a, np.array([[1.0], [2.0]]), flags=cv2.DECOMP_SVD)  # LAPACK through OpenBLAS
    assert ok and np.allclose(a @ x, [[1.0], [2.0]])
    version += f", cv2 {cv2.__version__}"
assert np.allclose(a @ np.linalg.solve(a, [1.0, 2.0]), [1.0, 2.0])  # numpy's own BLAS and LAPACK
tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]"))
tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
assert tok.encode("hi there").ids == [1, 0]
print(
    f"smoke ok: {version}, numpy {np.__version__}, tokenizers {tokenizers.__version__}, {time.perf_counter() - t0:.2f}s"
)
