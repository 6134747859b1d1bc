"""Smoke test of a freshly built base image: every native piece loads and computes, and mxnet
is imported through the compiled operator cache (lit_runtime.fastmx)."""
# isort: skip_file

import time

t0 = time.perf_counter()
from lit_runtime import fastmx  # noqa: E402

state = fastmx.install()
assert state is not None, "the compiled operator cache is missing or stale"

import mxnet as mx  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import awslambdaric  # noqa: E402,F401
import lit_runtime.app  # noqa: E402,F401

ok, png = cv2.imencode(".png", np.arange(64, dtype=np.uint8).reshape(8, 8))
assert ok and cv2.imdecode(png, cv2.IMREAD_GRAYSCALE).shape == (8, 8)
a = np.array([[4.0, 1.0], [2.0, 3.0]])
ok, x = cv2.solve(a, np.array([[1.0], [2.0]]), flags=cv2.DECOMP_SVD)  # LAPACK through OpenBLAS
assert ok and np.allclose(a @ x, [[1.0], [2.0]])
y = mx.nd.dot(mx.nd.ones((4, 4)), mx.nd.ones((4, 4))).asnumpy()
assert (y == 4).all()
assert state.hits > 2000 and state.misses == 0, (state.hits, state.misses)
assert mx.sym.FullyConnected.__doc__ and "num_hidden" in mx.sym.FullyConnected.__doc__
print(
    f"smoke ok: mxnet {mx.__version__}, numpy {np.__version__}, cv2 {cv2.__version__}, {time.perf_counter() - t0:.2f}s"
)
