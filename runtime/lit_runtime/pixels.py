"""Image bytes -> pixels as OpenCV gives them (uint8, BGR or grey, EXIF orientation applied), and
OpenCV's INTER_AREA resize, with or without OpenCV.

The MXNet base carries OpenCV and uses it. The ONNX Runtime base does not (136 MB with its own
OpenBLAS and ffmpeg): there Pillow decodes and numpy resizes, following OpenCV's arithmetic step by
step so that a model answers the same as on OpenCV. What still differs is stated in the README
("Image decoding"); tests/unit/test_pixels.py compares both on real files.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import warnings
from typing import Any

import numpy as np

# What Pillow may open: the formats both it and OpenCV's headless build read, nothing else.
FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "TIFF", "PPM")


class DecodeError(Exception):
    """The bytes are an image of a known kind that could not be decoded (the reason is the message)."""


class TooLarge(DecodeError):
    """The decoder found more pixels than the limit (a format whose header imagesize.py does not read)."""


@functools.cache
def backend() -> str:
    """The decoder that runs: "opencv" where the image carries it (the MXNet base), else "pillow"."""
    return "opencv" if importlib.util.find_spec("cv2") is not None else "pillow"


def decode(data: bytes, gray: bool, max_pixels: int) -> np.ndarray[Any, Any] | None:
    """HxW (gray) or HxWx3 BGR uint8 pixels; None when the bytes are no image of a known kind."""
    return _decode_cv2(data, gray) if backend() == "opencv" else decode_pillow(data, gray, max_pixels)


def resize_area(img: np.ndarray[Any, Any], size: tuple[int, int]) -> np.ndarray[Any, Any]:
    """cv2.resize(img, size, interpolation=cv2.INTER_AREA); size is (width, height)."""
    if backend() == "opencv":
        import cv2

        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return resize_area_numpy(img, size)


def _decode_cv2(data: bytes, gray: bool) -> np.ndarray[Any, Any] | None:
    import cv2

    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise DecodeError(str(exc).strip().splitlines()[-1] if str(exc).strip() else "decoder error") from None


def decode_pillow(data: bytes, gray: bool, max_pixels: int) -> np.ndarray[Any, Any] | None:
    """OpenCV's imdecode (IMREAD_GRAYSCALE or IMREAD_COLOR) done with Pillow."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own ceiling, as OPENCV_IO_MAX_IMAGE_PIXELS is OpenCV's
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit at all is refused
        try:
            im: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
            if gray and im.format == "JPEG" and im.mode == "RGB":
                # libjpeg's own grey output (the Y plane, no colour conversion): what OpenCV asks for
                im.draft("L", im.size)
            im.load()
            fmt = im.format
            if fmt in ("JPEG", "PNG"):  # OpenCV turns these by their EXIF orientation (WebP it does not)
                im = ImageOps.exif_transpose(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooLarge(f"over {max_pixels} pixels") from None
        except UnidentifiedImageError:
            return None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as exc:
            raise DecodeError(str(exc) or type(exc).__name__) from None
    return _gray(im, fmt) if gray else _bgr(im)


def _bgr(im: Any) -> np.ndarray[Any, Any]:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: OpenCV keeps the high byte
        im = _high_byte(im)
    rgb = np.asarray(im.convert("RGB"))  # palette expanded, alpha dropped (not blended), as OpenCV does
    return np.ascontiguousarray(rgb[..., ::-1])


def _gray(im: Any, fmt: str | None) -> np.ndarray[Any, Any]:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = _high_byte(im)
    if im.mode in ("L", "1", "LA"):
        return np.asarray(im.convert("L"))
    rgb = np.asarray(im.convert("RGB"), np.uint32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if fmt == "PNG":  # libpng's png_set_rgb_to_gray(0.299, 0.587): 15-bit fixed point, truncated
        return np.asarray(((9797 * r + 19234 * g + 3737 * b) >> 15).astype(np.uint8))
    if fmt == "WEBP":  # cv2.cvtColor(COLOR_BGR2GRAY): 15-bit fixed point, rounded
        return np.asarray(((9798 * r + 19235 * g + 3735 * b + (1 << 14)) >> 15).astype(np.uint8))
    # OpenCV's readers' own BGR->grey (BMP, TIFF, PPM): 14-bit fixed point, rounded
    return np.asarray(((4899 * r + 9617 * g + 1868 * b + (1 << 13)) >> 14).astype(np.uint8))


def _high_byte(im: Any) -> Any:
    from PIL import Image

    return Image.fromarray((np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8), "L")


def bgr_to_rgb(img: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """cv2.cvtColor(img, cv2.COLOR_BGR2RGB): channels reversed, a fourth (alpha) dropped."""
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"an image of shape {img.shape} has no BGR channels to turn into RGB")
    return np.ascontiguousarray(img[..., 2::-1])


# --- INTER_AREA, as OpenCV 4's imgproc/src/resize.cpp computes it for uint8 ---------------------------


def resize_area_numpy(img: np.ndarray[Any, Any], size: tuple[int, int]) -> np.ndarray[Any, Any]:
    """OpenCV's INTER_AREA for uint8 HxW or HxWxC: integer factors average blocks; other shrinks
    weigh each source pixel by the share of it a destination cell covers (float32, in OpenCV's
    order); growing along either axis is OpenCV's bilinear with INTER_AREA's coefficients."""
    dw, dh = size
    sh, sw = img.shape[:2]
    if (dw, dh) == (sw, sh):
        return img.copy()
    inv_x, inv_y = dw / sw, dh / sh
    scale_x, scale_y = 1.0 / inv_x, 1.0 / inv_y
    src = img if img.ndim == 3 else img[..., None]
    if scale_x >= 1 and scale_y >= 1:
        ix, iy = round(scale_x), round(scale_y)
        if abs(scale_x - ix) < 2.220446049250313e-16 and abs(scale_y - iy) < 2.220446049250313e-16:
            out = _area_fast(src, ix, iy, dw, dh)
        else:
            out = _area(src, scale_x, scale_y, dw, dh)
    else:
        out = _area_linear(src, scale_x, scale_y, inv_x, inv_y, dw, dh)
    return out if img.ndim == 3 else out[..., 0]


def _area_fast(src: np.ndarray[Any, Any], ix: int, iy: int, dw: int, dh: int) -> np.ndarray[Any, Any]:
    total = src[: dh * iy, : dw * ix].reshape(dh, iy, dw, ix, -1).sum(axis=(1, 3), dtype=np.int32)
    if ix == 2 and iy == 2 and src.shape[2] in (1, 3, 4):
        return np.asarray(((total + 2) >> 2).astype(np.uint8))  # OpenCV's 2x2 kernel rounds halves up
    # sum * (1.f / area) in float32, rounded half to even (cvRound)
    return np.asarray(np.rint(total.astype(np.float32) * np.float32(1.0 / (ix * iy))).clip(0, 255).astype(np.uint8))


def _area_tab(
    ssize: int, dsize: int, scale: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """computeResizeAreaTab: (destination, source, weight) triples in OpenCV's order."""
    di: list[int] = []
    si: list[int] = []
    alpha: list[float] = []
    for dx in range(dsize):
        fsx1 = dx * scale
        fsx2 = fsx1 + scale
        cell = min(scale, ssize - fsx1)
        sx1, sx2 = int(np.ceil(fsx1)), int(np.floor(fsx2))
        sx2 = min(sx2, ssize - 1)
        sx1 = min(sx1, sx2)
        taps = [(sx1 - 1, (sx1 - fsx1) / cell)] if sx1 - fsx1 > 1e-3 else []
        taps += [(sx, 1.0 / cell) for sx in range(sx1, sx2)]
        if fsx2 - sx2 > 1e-3:
            taps.append((sx2, min(min(fsx2 - sx2, 1.0), cell) / cell))
        for sx, weight in taps:
            di.append(dx)
            si.append(sx)
            alpha.append(weight)
    return np.array(di), np.array(si), np.array(alpha, np.float32)


def _terms(
    tab: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]], dsize: int
) -> list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """The tab as rounds: round k holds every destination's k-th term (destinations, sources, weights),
    so that adding the rounds in order adds each destination's terms in OpenCV's order."""
    di, si, alpha = tab
    first = np.searchsorted(di, np.arange(dsize))
    rank = np.arange(len(di)) - first[di]
    return [(di[rank == k], si[rank == k], alpha[rank == k]) for k in range(int(rank.max()) + 1)]


def _area(src: np.ndarray[Any, Any], scale_x: float, scale_y: float, dw: int, dh: int) -> np.ndarray[Any, Any]:
    sh, sw, cn = src.shape
    # Source columns as rows (contiguous), so that each round gathers whole rows, not strided pixels.
    cols = _transposed(src)
    # Each source row's horizontal sums, term by term in OpenCV's order (float32 products and sums,
    # no fused multiply-add): the result is OpenCV's buffer, bit for bit.
    buf = np.zeros((dw, sh, cn), np.float32)
    _accumulate(buf, cols, _terms(_area_tab(sw, dw, scale_x), dw))
    rows = np.ascontiguousarray(buf.transpose(1, 0, 2))
    # Then the rows, each destination row's terms in order (0 + x is x, so the first term's sum is exact).
    out = np.zeros((dh, dw, cn), np.float32)
    _accumulate(out, rows, _terms(_area_tab(sh, dh, scale_y), dh))
    return np.rint(out).clip(0, 255).astype(np.uint8)


def _transposed(src: np.ndarray[Any, Any], block: int = 256) -> np.ndarray[Any, Any]:
    """src with its first two axes swapped, copied in cache-sized tiles (a third faster than one copy)."""
    h, w = src.shape[:2]
    out = np.empty((w, h, *src.shape[2:]), src.dtype)
    for y in range(0, h, block):
        for x in range(0, w, block):
            out[x : x + block, y : y + block] = src[y : y + block, x : x + block].swapaxes(0, 1)
    return out


def _accumulate(
    acc: np.ndarray[Any, Any],
    src: np.ndarray[Any, Any],
    rounds: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]],
) -> None:
    """acc[d] += float32(src[s]) * weight, round by round; a round that has every destination in
    order adds in place, without a gather and a scatter."""
    every = np.arange(len(acc))
    term = np.empty(acc.shape, np.float32)
    for d, s, w in rounds:
        if len(d) == len(acc) and np.array_equal(d, every):
            np.multiply(src[s], w[:, None, None], out=term, dtype=np.float32)
            acc += term
        else:
            acc[d] += np.multiply(src[s], w[:, None, None], dtype=np.float32)


def _linear_tab(ssize: int, dsize: int, scale: float, inv: float) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Source index and 11-bit fixed-point weights (1 - f, f) per destination, INTER_AREA's way."""
    dx = np.arange(dsize)
    sx = np.floor(dx * scale).astype(np.int64)
    fx = ((dx + 1) - (sx + 1) * inv).astype(np.float32)
    fx = np.where(fx <= 0, np.float32(0), fx - np.floor(fx)).astype(np.float32)
    edge = sx >= ssize - 1
    fx[edge], sx[edge] = 0, ssize - 1
    fx[sx < 0], sx[sx < 0] = 0, 0
    w1 = np.rint(fx * np.float32(2048)).astype(np.int64)
    w0 = np.rint((np.float32(1) - fx) * np.float32(2048)).astype(np.int64)
    return sx, np.stack([w0, w1], axis=1)


def _area_linear(
    src: np.ndarray[Any, Any], scale_x: float, scale_y: float, inv_x: float, inv_y: float, dw: int, dh: int
) -> np.ndarray[Any, Any]:
    sh, sw, _ = src.shape
    sx, wx = _linear_tab(sw, dw, scale_x, inv_x)
    sy, wy = _linear_tab(sh, dh, scale_y, inv_y)
    s = src.astype(np.int64)
    nx = np.minimum(sx + 1, sw - 1)
    horiz = s[:, sx] * wx[:, 0, None] + s[:, nx] * wx[:, 1, None]  # 11 fractional bits
    ny = np.minimum(sy + 1, sh - 1)
    s0 = horiz[sy].reshape(dh, -1)
    s1 = horiz[ny].reshape(dh, -1)
    b0, b1 = wy[:, 0, None], wy[:, 1, None]
    # OpenCV's vertical pass (VResizeLinearVec_32s8u, which the rows' tails match): each term the high
    # 16 bits of (row >> 4) * weight, then (sum + 2) >> 2
    out = ((((s0 >> 4) * b0) >> 16) + (((s1 >> 4) * b1) >> 16) + 2) >> 2
    return np.asarray(out.clip(0, 255).astype(np.uint8).reshape(dh, dw, -1))
