"""The compiled operator cache: same results as MXNet's own registration, and actually used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional
pytest.importorskip("mxnet")

PROBE = """
import json, sys, pathlib
from lit_runtime import fastmx
state = fastmx.install(pathlib.Path(sys.argv[1])) if sys.argv[1] != "none" else None
import mxnet as mx, numpy as np
from lit_runtime import model
net = model.load_block(pathlib.Path(sys.argv[2]))
x = mx.nd.array(np.linspace(0, 1, 128, dtype="float32").reshape(2, 1, 8, 8))
out = net(x).asnumpy().tolist()
extra = [mx.nd.relu(mx.nd.array([-1.0, 2.0])).asnumpy().tolist(), mx.np.add(mx.np.ones(2), 1).tolist(),
         mx.sym.FullyConnected.__name__, mx.nd.softmax.__module__, bool(mx.nd.Convolution.__doc__),
         mx.test_utils.almost_equal(np.ones(2), np.ones(2)), hasattr(mx.contrib.text, "embedding")]
print(json.dumps({"out": out, "extra": extra, "hits": state.hits if state else 0, "misses": state.misses if state else 0}))
"""


def run(cache: str, model_dir: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, cache, str(model_dir)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cached_registration_matches_mxnet(digits_model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "ops.cache"
    write = subprocess.run(
        [sys.executable, "-m", "lit_runtime.fastmx", "--write", str(cache)], capture_output=True, text=True, timeout=120
    )
    assert write.returncode == 0, write.stderr[-2000:]
    plain, fast = run("none", digits_model / "model"), run(str(cache), digits_model / "model")
    assert fast["hits"] > 2000 and fast["misses"] == 0
    assert fast["out"] == plain["out"] and fast["extra"] == plain["extra"]
    assert fast["extra"][4] is True  # docstrings survive the cache


def test_stale_or_missing_cache_is_ignored(digits_model: Path, tmp_path: Path) -> None:
    import pickle

    stale = tmp_path / "stale.cache"
    stale.write_bytes(pickle.dumps({"python": tuple(sys.version_info[:2]), "library": "0.0.0:1", "entries": {}}))
    assert run(str(stale), digits_model / "model")["hits"] == 0
    assert run(str(tmp_path / "missing.cache"), digits_model / "model")["hits"] == 0
