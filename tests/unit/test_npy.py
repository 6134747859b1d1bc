"""Binary tensors: .npy bodies decoded without a copy, and every lie in a header refused first."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from lit_runtime import events, npy
from lit_runtime.errors import InputError

pytestmark = pytest.mark.unit


def saved(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool", ">f4"])
def test_round_trips_every_plain_dtype(dtype: str) -> None:
    a = (np.arange(24).reshape(2, 3, 4) % 2 if dtype == "bool" else np.arange(24).reshape(2, 3, 4)).astype(dtype)
    got = npy.decode(saved(a))
    assert got.dtype == a.dtype and got.shape == a.shape and np.array_equal(got, a)


def test_fortran_order_and_format_version_2() -> None:
    a = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert np.array_equal(npy.decode(saved(a)), a)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ones((2, 2), np.float32), version=(2, 0))
    assert npy.decode(buf.getvalue()).shape == (2, 2)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"PK\x03\x04 not npy", "not an .npy"),
        (saved(np.ones((2, 3), np.float32))[:-1], "but 23 bytes follow"),
        (saved(np.ones((2, 3), np.float32)) + b"x", "but 25 bytes follow"),
        (saved(np.array(["a", "b"])), "not a plain number type"),
        (saved(np.zeros(2, dtype=[("x", "f4")])), "not a plain number type"),
        (saved(np.float32(1.0)), "batch dimension"),
        (saved(np.ones((2, 3), np.float32)).replace(b"(2, 3)", b"(9**99,"), "malformed"),
    ],
)
def test_lies_and_odd_arrays_are_client_errors(data: bytes, needle: str) -> None:
    with pytest.raises(InputError) as err:
        npy.decode(data)
    assert needle in str(err.value) and err.value.status == 400


def test_object_arrays_are_refused_without_unpickling() -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="not a plain number type"):
        npy.decode(buf.getvalue())


def test_a_header_claiming_terabytes_is_refused_before_any_allocation() -> None:
    header = saved(np.ones((2,), np.float32))
    huge = header.replace(b"(2,)", b"(1000000000000,)")
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="claims shape"):
        npy.decode(huge)
    assert time.perf_counter() - t0 < 0.5


def test_examples_are_views_of_the_batch() -> None:
    a = np.arange(2 * 3 * 224 * 224, dtype=np.float32).reshape(2, 3, 224, 224)
    rows = npy.examples(saved(a), "body")
    assert len(rows) == 2 and rows[1].shape == (3, 224, 224) and not rows[1].flags.owndata
    assert np.array_equal(rows[1], a[1])


def test_events_carry_npy_in_direct_http_and_named_forms() -> None:
    a = np.ones((3, 4), np.int64)
    b64 = base64.b64encode(saved(a)).decode()
    assert len(events.parse({"npy": b64}, "tensor").inputs) == 3
    named = events.parse({"npy": {"ids": b64, "mask": b64}}, "tensor").inputs
    assert len(named) == 3 and set(named[0]) == {"ids", "mask"}
    event = {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST"}, "domainName": "x.lambda-url.us-east-1.on.aws"},
        "headers": {"Content-Type": "application/x-npy"},
        "body": b64,
        "isBase64Encoded": True,
    }
    assert len(events.parse(event, "tensor").inputs) == 3
    with pytest.raises(InputError, match="share one non-empty batch size"):
        events.parse({"npy": {"ids": b64, "mask": base64.b64encode(saved(np.ones((2, 4)))).decode()}}, "tensor")
    assert len(events.object_inputs("batch.npy", saved(a), "tensor")) == 3


def test_text_events_in_every_form() -> None:
    assert events.parse({"text": "hello"}, "text").inputs == ["hello"]
    assert events.parse({"texts": ["a", "b"]}, "text").inputs == ["a", "b"]
    for bad, needle in [
        ({"text": 3}, "must be a string"),
        ({"text": "  "}, "is empty"),
        ({"image": "x"}, "missing"),
        ({"text": "a\ud800"}, "lone surrogate"),  # found by the fuzz tier: tokenizers raised TypeError
    ]:
        with pytest.raises(InputError, match=needle):
            events.parse(bad, "text")
    event = {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST"}, "domainName": "x.lambda-url.us-east-1.on.aws"},
        "headers": {"content-type": "text/plain; charset=utf-8"},
        "body": "the court ruled",
        "isBase64Encoded": False,
    }
    assert events.parse(event, "text").inputs == ["the court ruled"]
    event["body"], event["isBase64Encoded"] = base64.b64encode(b"\xff\xfe bad").decode(), True
    with pytest.raises(InputError, match="UTF-8"):
        events.parse(event, "text")
    event["headers"] = {"content-type": "image/png"}
    with pytest.raises(InputError, match="text/plain") as err:
        events.parse(event, "text")
    assert err.value.status == 415
    assert events.object_inputs("note.txt", b"a note", "text") == ["a note"]
