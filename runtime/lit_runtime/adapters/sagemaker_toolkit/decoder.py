"""Request bodies to numpy arrays (sagemaker_inference.decoder): JSON, CSV, NPY, and NPZ (a scipy
sparse matrix, when scipy is installed)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from . import content_types, errors


def _json_to_numpy(string_like: Any, dtype: Any = None) -> Any:
    import numpy as np

    return np.array(json.loads(string_like), dtype=dtype)


def _csv_to_numpy(string_like: Any, dtype: Any = None) -> Any:
    import numpy as np

    return np.genfromtxt(io.StringIO(string_like), dtype=dtype, delimiter=",")


def _npy_to_numpy(npy_array: Any) -> Any:
    import numpy as np

    # The toolkit passes allow_pickle=True; a pickle in a request body would run code here.
    return np.load(io.BytesIO(npy_array), allow_pickle=False)


def _npz_to_sparse(npz_bytes: Any) -> Any:
    try:
        import scipy.sparse  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise errors.UnsupportedFormatError(
            content_types.NPZ + " (it needs scipy: add scipy to the project's requirements.txt)"
        ) from None
    return scipy.sparse.load_npz(io.BytesIO(npz_bytes))


_decoder_map: dict[str, Callable[[Any], Any]] = {
    content_types.NPY: _npy_to_numpy,
    content_types.CSV: _csv_to_numpy,
    content_types.JSON: _json_to_numpy,
    content_types.NPZ: _npz_to_sparse,
}


def decode(obj: Any, content_type: str) -> Any:
    """The body as a numpy array, by its content type (exactly one of the four)."""
    return errors.by_content_type(_decoder_map, content_type)(obj)
