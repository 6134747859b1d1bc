"""The direct CachedOp call (lit_runtime.model.Forward) answers exactly as Gluon's own call does."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.functional
mx = pytest.importorskip("mxnet")
np = pytest.importorskip("numpy")

from lit_runtime import model  # noqa: E402


def gluon(net, x):
    return net(mx.nd.array(x)).asnumpy()


def test_forward_matches_gluon_across_batch_sizes_and_parameter_loads(digits_model: Path, tmp_path: Path) -> None:
    net = model.load_block(digits_model / "model")
    forward = net.lit_forward
    rng = np.random.default_rng(0)
    first = rng.random((1, 1, 8, 8), dtype=np.float32)
    assert np.array_equal(forward([first]).asnumpy(), gluon(net, first))  # first call goes through Gluon
    op = forward.op
    assert op is not None
    for n in (1, 4, 1, 7):
        x = rng.random((n, 1, 8, 8), dtype=np.float32)
        out = forward([x]).asnumpy()
        assert out.shape == (n, 10)
        np.testing.assert_allclose(out, gluon(net, x), rtol=1e-6, atol=1e-7)
    assert forward.op is op, "the direct path stays bound"

    # parameters loaded later are copied into the same arrays: the direct path sees them
    zeroed = tmp_path / "zero.params"
    net.collect_params().save(str(zeroed))
    for p in net.collect_params().values():
        p.set_data(mx.nd.zeros_like(p.data()))
    x = rng.random((2, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(forward([x]).asnumpy(), np.zeros((2, 10)), atol=1e-7)
    net.collect_params().load(str(zeroed))
    np.testing.assert_allclose(forward([x]).asnumpy(), gluon(net, x), rtol=1e-6, atol=1e-7)

    # hybridized again: a new CachedOp, taken up on the next call
    net.hybridize(static_alloc=False)
    np.testing.assert_allclose(forward([x]).asnumpy(), gluon(net, x), rtol=1e-6, atol=1e-7)
    forward([x])
    assert forward.op is net._cached_op and forward.op is not op


def test_wrong_shape_still_raises_mxnets_error(digits_model: Path) -> None:
    net = model.load_block(digits_model / "model")
    ok = np.zeros((1, 1, 8, 8), np.float32)
    net.lit_forward([ok])
    net.lit_forward([ok])
    with pytest.raises(mx.base.MXNetError):
        net.lit_forward([np.zeros((1, 3, 8, 8), np.float32)]).asnumpy()
    np.testing.assert_allclose(net.lit_forward([ok]).asnumpy(), gluon(net, ok), rtol=1e-6)
