"""Smoke test of a freshly built base image (`smoke.py ENGINE`): every native piece loads and
computes; on the MXNet base, mxnet is imported through the compiled operator cache
(lit_runtime.fastmx); on the ONNX Runtime base, mxnet is absent."""
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
    import onnxruntime as ort

    assert importlib.util.find_spec("mxnet") is None, "the ONNX Runtime base must not carry mxnet"
    assert "CPUExecutionProvider" in ort.get_available_providers()
    version = f"onnxruntime {ort.__version__}"
else:
    raise SystemExit(f"unknown engine {engine!r}")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import awslambdaric  # noqa: E402,F401
import lit_runtime.app  # noqa: E402,F401

ok, png = cv2.imencode(".png", np.arange(64, dtype=np.uint8).reshape(8, 8))
assert ok and cv2.imdecode(png, cv2.IMREAD_GRAYSCALE).shape == (8, 8)
a = np.array([[4.0, 1.0], [2.0, 3.0]])
ok, x = cv2.solve(a, np.array([[1.0], [2.0]]), flags=cv2.DECOMP_SVD)  # LAPACK through OpenBLAS
assert ok and np.allclose(a @ x, [[1.0], [2.0]])
tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]"))
tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
assert tok.encode("hi there").ids == [1, 0]
print(
    f"smoke ok: {version}, numpy {np.__version__}, cv2 {cv2.__version__}, tokenizers {tokenizers.__version__}, "
    f"{time.perf_counter() - t0:.2f}s"
)
