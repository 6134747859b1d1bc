"""Header-only image dimensions: real encodings from OpenCV, and a forged 'bomb' header."""

from __future__ import annotations

import pytest
from lit_runtime.imagesize import dimensions

from tests.conftest import bomb_png

pytestmark = pytest.mark.unit
cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp"])
@pytest.mark.parametrize("color", [True, False])
def test_real_encodings(ext: str, color: bool) -> None:
    img = np.zeros((37, 53, 3) if color else (37, 53), np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    assert dimensions(buf.tobytes()) == (53, 37)


def test_forged_header_is_read_without_decoding() -> None:
    assert dimensions(bomb_png(100_000, 100_000)) == (100_000, 100_000)


def test_unknown_and_truncated() -> None:
    assert dimensions(b"") is None
    assert dimensions(b"hello world, not an image") is None
    assert dimensions(b"\xff\xd8\xff") is None
