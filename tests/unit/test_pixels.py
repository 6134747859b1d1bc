"""The light decoder (Pillow + numpy, the ONNX Runtime base's) against OpenCV (the MXNet base's):
the same pixels for every format and mode LIT serves, INTER_AREA bit for bit at any size, and on the
examples' held-out images; bombs and broken files refused as OpenCV's path refuses them."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lit_runtime import defaults, pixels
from lit_runtime.errors import InputError
from lit_runtime.settings import ImageOptions

from tests.conftest import ROOT, bomb_png

pytestmark = pytest.mark.unit
cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")

RNG = np.random.default_rng(0)


def photo(h: int, w: int) -> Any:
    """Gradients plus sensor noise (BGR): what JPEG and the resize kernels see in practice."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 128 / (w + h)], -1) + RNG.normal(0, 20, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _pil(im: Any, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def encodings() -> dict[str, bytes]:
    bgr, noise = photo(61, 83), RNG.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    files = {}
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm"):
        files[f"colour{ext}"] = cv2.imencode(ext, bgr)[1].tobytes()
        files[f"noise{ext}"] = cv2.imencode(ext, noise)[1].tobytes()
        files[f"grey{ext}"] = cv2.imencode(".pgm" if ext == ".ppm" else ext, gray)[1].tobytes()
    files["bgra.png"] = cv2.imencode(".png", np.dstack([bgr, gray]))[1].tobytes()
    files["grey16.png"] = cv2.imencode(".png", gray.astype(np.uint16) * 257 + 3)[1].tobytes()
    files["colour16.png"] = cv2.imencode(".png", bgr.astype(np.uint16) * 250)[1].tobytes()
    files["q50.jpg"] = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes()
    files["progressive.jpg"] = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    rgb = Image.fromarray(bgr[..., ::-1].copy())
    files["444.jpg"] = _pil(rgb, "JPEG", subsampling=0, quality=90)
    files["422.jpg"] = _pil(rgb, "JPEG", subsampling=1, quality=90)
    files["palette.png"] = _pil(rgb.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")
    files["grey-alpha.png"] = _pil(rgb.convert("LA"), "PNG")
    files["bilevel.png"] = _pil(rgb.convert("1"), "PNG")
    files["lossy.webp"] = _pil(rgb, "WEBP", quality=80)
    files["rgba.webp"] = _pil(rgb.convert("RGBA"), "WEBP", lossless=True)
    for orientation in (3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        files[f"exif{orientation}.jpg"] = _pil(rgb, "JPEG", exif=exif.tobytes(), quality=90)
        files[f"exif{orientation}.png"] = _pil(rgb, "PNG", exif=exif.tobytes())
        files[f"exif{orientation}.webp"] = _pil(rgb, "WEBP", exif=exif.tobytes(), lossless=True)
        files[f"exif{orientation}.tiff"] = _pil(rgb, "TIFF", exif=exif.tobytes())
    return files


FILES = encodings()
# The one difference found: a 16-bit colour PNG read as grey. libpng converts at 16 bits and then
# keeps the high byte; Pillow hands over 8 bits, so the grey value can be 1 lower or higher.
DIFFERS_BY_ONE = {("colour16.png", True)}


@pytest.mark.parametrize("gray", [False, True], ids=["colour", "grey"])
@pytest.mark.parametrize("name", sorted(FILES))
def test_decode_gives_opencvs_pixels(name: str, gray: bool) -> None:
    data = FILES[name]
    want = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    got = pixels.decode_pillow(data, gray, 10**8)
    assert got is not None and got.dtype == np.uint8 and got.shape == want.shape
    diff = int(np.abs(got.astype(int) - want.astype(int)).max())
    assert diff <= (1 if (name, gray) in DIFFERS_BY_ONE else 0), f"{name}: pixels differ by up to {diff}"


def _sizes() -> list[tuple[int, int, int, int, int]]:
    """(h, w, channels, dh, dw): integer shrinks, other shrinks, growth, and one axis of each."""
    rng = np.random.default_rng(1)
    cases = [(224, 224, 3, 112, 112), (300, 200, 3, 100, 100), (8, 8, 1, 8, 3), (640, 480, 3, 224, 224)]
    for i in range(120):
        h, w, dh, dw = (int(v) for v in rng.integers(1, 100, 4))
        if i % 4 == 0:
            fy, fx = (int(v) for v in rng.integers(1, 5, 2))
            dh, dw, h, w = max(1, h // fy), max(1, w // fx), max(1, h // fy) * fy, max(1, w // fx) * fx
        cases.append((h, w, (1, 3, 4)[i % 3], dh, dw))
    return cases


@pytest.mark.parametrize("h,w,c,dh,dw", _sizes())
def test_resize_area_is_opencvs_bit_for_bit(h: int, w: int, c: int, dh: int, dw: int) -> None:
    img = photo(h, w) if c == 3 else RNG.integers(0, 256, (h, w, c), dtype=np.uint8)
    img = img[..., 0] if c == 1 else img
    want = cv2.resize(img, (dw, dh), interpolation=cv2.INTER_AREA)
    got = pixels.resize_area_numpy(img, (dw, dh))
    assert got.shape == want.shape and np.array_equal(got, want)


def test_bgr_to_rgb_is_cvtcolors() -> None:
    img = photo(9, 7)
    assert np.array_equal(pixels.bgr_to_rgb(img), cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    bgra = np.dstack([img, img[..., 0]])
    assert np.array_equal(pixels.bgr_to_rgb(bgra), cv2.cvtColor(bgra, cv2.COLOR_BGR2RGB))


def _ctx(size: tuple[int, int], color: str, max_pixels: int = 10**8) -> Any:
    image = ImageOptions(size=size, color=color, scale=255.0, mean=(0.0,), std=(1.0,), max_pixels=max_pixels)
    return SimpleNamespace(settings=SimpleNamespace(image=image))


def heldout() -> list[tuple[str, Path, tuple[int, int], str]]:
    """Every held-out image of the image examples (trained by their train.py; absent until then)."""
    out = []
    for example, size, color in (("digits", (8, 8), "gray"), ("shapes-detect", (64, 64), "rgb")):
        folder = ROOT / "images" / example / "heldout"
        out += [(example, path, size, color) for path in sorted(folder.glob("*.png"))]
    return out


def test_heldout_sets_and_the_bench_photo_preprocess_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's input batch itself, through defaults.preprocess_image on each backend: equal, so
    the answers are too (top-1 and every probability)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from engines import jpeg_event  # the ResNet-50 benchmark's 224x224 JPEG

    cases = [(name, path.read_bytes(), size, color) for name, path, size, color in heldout()]
    photo_jpeg = base64.b64decode(json.loads(jpeg_event())["image"])
    cases += [("resnet50", photo_jpeg, (224, 224), "rgb"), ("resnet50-shrunk", photo_jpeg, (100, 100), "rgb")]
    cases += [("resnet50-grown", photo_jpeg, (300, 250), "rgb"), ("grey-photo", photo_jpeg, (64, 48), "gray")]
    counts: dict[str, int] = {}
    for name, data, size, color in cases:
        ctx = _ctx(size, color)
        batches = {}
        for backend in ("opencv", "pillow"):
            monkeypatch.setattr(pixels, "backend", lambda b=backend: b)
            batches[backend] = defaults.preprocess_image([data], ctx)
        assert np.array_equal(batches["opencv"], batches["pillow"]), name
        counts[name] = counts.get(name, 0) + 1
    if not any(n in counts for n in ("digits", "shapes-detect")):
        pytest.skip("no held-out sets: run images/digits/train.py and images/shapes-detect/train.py")


def test_bombs_and_broken_files_are_input_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pixels, "backend", lambda: "pillow")
    tiff = _pil(Image.new("L", (64, 64)), "TIFF")  # a format whose header imagesize.py does not read
    with pytest.raises(InputError) as err:
        defaults.decode_image(tiff, _ctx((8, 8), "gray", max_pixels=1000))
    assert err.value.status == 413 and "max_pixels" in str(err.value)
    assert defaults.decode_image(tiff, _ctx((8, 8), "gray", max_pixels=4096)).shape == (64, 64)
    with pytest.raises(InputError) as err:
        defaults.decode_image(bomb_png(60_000, 60_000), _ctx((8, 8), "gray"))
    assert err.value.status == 413
    jpeg = FILES["colour.jpg"]
    with pytest.raises(InputError) as err:
        defaults.decode_image(jpeg[: len(jpeg) // 2], _ctx((8, 8), "rgb"))
    assert err.value.status == 400 and "could not be decoded" in str(err.value)
    for junk in (b"", b"this is not a png", b"GIF89a" + bytes(20)):
        with pytest.raises(InputError) as err:
            defaults.decode_image(junk, _ctx((8, 8), "rgb"))
        assert err.value.status == 400 and "not a decodable image" in str(err.value)
