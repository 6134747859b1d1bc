"""A tiny anchor-free PyTorch detector of circles, squares and triangles on generated 64x64 images.

Exported with torch.onnx.export's defaults (dynamo, opset 18+, weights in an external data file) in the raw
single-tensor layout of YOLO-family exports (ultralytics YOLOv8): input "images" float32 [batch, 3, 64, 64]
(RGB, pixels / 255), output "output0" float32 [batch, 4 + 3, 64]: rows 0..3 are cx, cy, w, h in the input's
pixels, rows 4..6 the class scores (sigmoid, 0..1), one column per cell of an 8x8 grid (stride 8). LIT
decodes it and does the non-maximum suppression. The exporter needs onnxscript and a newer onnx than the
main venv has, so this runs in the export environment (see images/cnn-onnx/train.py):

    .venv-export/bin/python images/shapes-detect/train.py [--out DIR] [--heldout DIR] [--epochs 8]

Writes DIR/detector.onnx + DIR/detector.onnx.data, and heldout/: 200 generated images (another seed) as
PNG files with heldout/labels.json (classes, per image its boxes [x1, y1, x2, y2] in pixels and classes,
and the mAP@0.5 of ONNX Runtime's detections on the images as decoded from those PNG files, post-processed
as LIT's runtime does). Checks that ONNX Runtime matches PyTorch. No downloads; everything is seeded.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
import zlib
from pathlib import Path
from typing import Any

# OpenMP threads that sleep instead of spinning while they wait: on a busy machine spinning threads make
# training several times slower (set before torch loads its OpenMP runtime)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402  (pure numpy, beside this file)

HERE = Path(__file__).resolve().parent
CLASSES = ("circle", "square", "triangle")
SIZE = 64  # input pixels, square
STRIDE = 8  # one candidate per 8x8 cell: an 8x8 grid, 64 candidates
GRID = SIZE // STRIDE
MIN_SIDE, MAX_SIDE = 10, 28  # shape sizes in pixels
N_HELDOUT = 200
TOLERANCE = 1e-4


# --- data ----------------------------------------------------------------------------------------------------


def shape_mask(kind: int, x0: int, y0: int, side: int) -> np.ndarray:
    """The pixels whose centres fall inside a circle (kind 0), square (1) or upright triangle (2) drawn in the
    side x side square with its top left corner at x0, y0."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    if kind == 0:
        r = side / 2
        return (xx - x0 - r) ** 2 + (yy - y0 - r) ** 2 <= r * r
    inside = (xx >= x0) & (xx <= x0 + side) & (yy >= y0) & (yy <= y0 + side)
    if kind == 1:
        return inside
    # apex at the top middle, base along the bottom: below both slanted edges
    u = (yy - y0) / side  # 0 at the apex row, 1 at the base
    return inside & (np.abs(xx - x0 - side / 2) <= u * side / 2)


def tight_box(mask: np.ndarray) -> list[int]:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]


def generate(count: int, seed: int) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    """count RGB uint8 images [count, 64, 64, 3], each with 1-3 shapes that do not overlap and whose centres
    fall in different grid cells, and their exact boxes (tight around the drawn pixels) and classes."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, SIZE, SIZE, 3), np.uint8)
    labels: list[list[dict[str, Any]]] = []
    for n in range(count):
        background = rng.integers(0, 256, 3)
        img = np.tile(background.astype(np.float64), (SIZE, SIZE, 1))
        if rng.random() < 0.5:  # light noise on half of the backgrounds
            img = np.clip(img + rng.normal(0, rng.uniform(1, 8), img.shape), 0, 255)
        found: list[dict[str, Any]] = []
        taken: list[tuple[list[int], tuple[int, int]]] = []  # boxes and centre cells so far
        for _ in range(rng.integers(1, 4)):
            for _attempt in range(20):
                kind, side = int(rng.integers(0, 3)), int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
                x0, y0 = (int(v) for v in rng.integers(0, SIZE - side + 1, 2))
                mask = shape_mask(kind, x0, y0, side)
                box = tight_box(mask)
                cell = (int((box[0] + box[2]) / 2 // STRIDE), int((box[1] + box[3]) / 2 // STRIDE))
                if all(_apart(box, b) and cell != c for b, c in taken):
                    break
            else:
                continue
            while True:  # a colour that stands out from the background
                colour = rng.integers(0, 256, 3)
                if np.abs(colour - background).max() >= 80:
                    break
            img[mask] = colour
            found.append({"box": box, "class": kind})
            taken.append((box, cell))
        images[n] = np.round(img).astype(np.uint8)
        labels.append(found)
    return images, labels


def _apart(a: list[int], b: list[int]) -> bool:
    """Whether two boxes share no pixel."""
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def targets(labels: list[list[dict[str, Any]]]) -> tuple[np.ndarray, np.ndarray]:
    """Per image and cell: the class of the shape whose box centre falls in it (-1: none) and its
    (cx, cy, w, h) in pixels; candidates are ordered row by row, as the model's output."""
    classes = np.full((len(labels), GRID * GRID), -1, np.int64)
    boxes = np.zeros((len(labels), GRID * GRID, 4), np.float32)
    for n, found in enumerate(labels):
        for f in found:
            x1, y1, x2, y2 = f["box"]
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            cell = int(cy // STRIDE) * GRID + int(cx // STRIDE)
            classes[n, cell] = f["class"]
            boxes[n, cell] = (cx, cy, x2 - x1, y2 - y1)
    return classes, boxes


def to_input(images: np.ndarray) -> np.ndarray:
    """RGB uint8 [N, H, W, 3] -> float32 [N, 3, H, W] in 0..1: what LIT feeds with [image] scale = 255."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)


# --- PNG with zlib (no cv2 in the export venv): 8-bit RGB, no interlace, filter 0 on every row -------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, rgb: np.ndarray) -> None:
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + _chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def read_png(path: Path) -> np.ndarray:
    """The RGB pixels [H, W, 3] of a PNG as write_png writes them (and nothing else: fails loudly)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] != zlib.crc32(kind + body):
            raise ValueError(f"{path}: bad CRC in {kind!r}")
        header, idat = (body, idat) if kind == b"IHDR" else (header, idat + body if kind == b"IDAT" else idat)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if (depth, colour, interlace) != (8, 2, 0):
        raise ValueError(f"{path}: only 8-bit RGB without interlace is read here")
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * 3)
    if rows[:, 0].any():
        raise ValueError(f"{path}: only filter type 0 is read here")
    return rows[:, 1:].reshape(height, width, 3).copy()


# --- model ---------------------------------------------------------------------------------------------------


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class Detector(nn.Module):
    """Three stride-2 convs down to the 8x8 grid, two more for context, a 1x1 head of 4 + 3 per cell."""

    def __init__(self, width: int = 32, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn(3, width // 2, 2),  # 32x32
            *conv_bn(width // 2, width, 2),  # 16x16
            *conv_bn(width, width * 2, 2),  # 8x8
            *conv_bn(width * 2, width * 2),
            *conv_bn(width * 2, width * 2),
        )
        self.head = nn.Conv2d(width * 2, 4 + n_classes, 1)
        with torch.no_grad():  # start near the answer: mid-sized boxes, rare shapes (score 0.01 a cell)
            self.head.bias[2:4] = float(np.log(0.3 / 0.7))
            self.head.bias[4:] = float(np.log(0.01 / 0.99))
        ys, xs = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
        self.register_buffer("cells", torch.stack([xs, ys]).float()[None].flatten(2))  # [1, 2, 64]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, 4 + C, 64]: per cell the box offsets and the class logits."""
        return self.head(self.body(x)).flatten(2)

    def decode(self, p: torch.Tensor) -> torch.Tensor:
        centre = (self.cells + torch.sigmoid(p[:, 0:2])) * STRIDE  # inside its own cell
        size = torch.sigmoid(p[:, 2:4]) * SIZE
        return torch.cat([centre, size, torch.sigmoid(p[:, 4:])], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.raw(x))


def giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalised IoU of (cx, cy, w, h) boxes [M, 4], row by row."""
    a1, a2 = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b1, b2 = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    inter = (torch.minimum(a2, b2) - torch.maximum(a1, b1)).clamp(min=0).prod(1)
    union = a[:, 2:].prod(1) + b[:, 2:].prod(1) - inter
    hull = (torch.maximum(a2, b2) - torch.minimum(a1, b1)).prod(1)
    iou = inter / union
    return iou - (hull - union) / hull


def loss_fn(net: Detector, x: torch.Tensor, classes: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """BCE on every cell's class scores (1 for the responsible cell's class, 0 elsewhere), L1 and GIoU on the
    responsible cells' boxes; summed over the batch and divided by its number of shapes."""
    p = net.raw(x)
    out = net.decode(p)
    positive = classes >= 0
    n_pos = positive.sum().clamp(min=1)
    wanted = torch.zeros_like(p[:, 4:])
    wanted.scatter_(1, classes.clamp(min=0)[:, None], positive[:, None].float())
    cls = nn.functional.binary_cross_entropy_with_logits(p[:, 4:], wanted, reduction="sum") / n_pos
    pred = out[:, :4].transpose(1, 2)[positive]  # [n_pos, 4]
    true = boxes[positive]
    l1 = (pred - true).abs().sum() / STRIDE / n_pos
    return cls + l1 + 2.0 * (1.0 - giou(pred, true)).sum() / n_pos


def train(net: Detector, images: np.ndarray, labels: list[list[dict[str, Any]]], epochs: int) -> None:
    x = torch.from_numpy(to_input(images)).to(memory_format=torch.channels_last)  # faster convs on CPU
    classes, boxes = (torch.from_numpy(a) for a in targets(labels))
    batch = 256
    steps = epochs * ((len(x) + batch - 1) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=6e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=6e-3, total_steps=steps, pct_start=0.15)
    net.to(memory_format=torch.channels_last).train()
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(net, x[idx], classes[idx], boxes[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(x):.4f} ({time.perf_counter() - start:.1f} s)", flush=True)
    net.to(memory_format=torch.contiguous_format)


# --- export and checks ---------------------------------------------------------------------------------------


def export(net: nn.Module, path: Path) -> int:
    """Exports with the default (dynamo) exporter and a dynamic batch dim; returns the opset."""
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    torch.onnx.export(
        net.eval(),
        (torch.zeros(1, 3, SIZE, SIZE),),
        path,
        input_names=["images"],
        output_names=["output0"],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        external_data=True,
    )
    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def verify(path: Path, inputs: np.ndarray, torch_outputs: np.ndarray, opset: int) -> ort.InferenceSession:
    """Fails loudly unless the export has the external weights, opset 18+, one output [batch, 7, 64] and ONNX
    Runtime matches PyTorch for several batch sizes; returns the session."""
    errors = []
    if opset < 18:
        errors.append(f"opset {opset} < 18")
    if not path.with_name(path.name + ".data").is_file():
        errors.append(f"no external data file beside {path.name}")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for port in (*session.get_inputs(), *session.get_outputs()):
        print(f"onnxruntime: {port.name} {port.type} {port.shape}")
    if [p.name for p in session.get_outputs()] != ["output0"]:
        errors.append(f"outputs {[p.name for p in session.get_outputs()]}, not just output0")
    for batch in (inputs, inputs[:1], inputs[:7]):
        (got,) = session.run(["output0"], {"images": batch})
        diff = float(np.abs(got - torch_outputs[: len(batch)]).max())
        print(f"onnxruntime vs PyTorch, batch {len(batch)}: output {list(got.shape)}, max |diff| = {diff:.2e}")
        if got.shape != (len(batch), 4 + len(CLASSES), GRID * GRID) or not diff <= TOLERANCE:
            errors.append(f"batch {len(batch)}: shape {got.shape}, max |diff| {diff:.2e} (tolerance {TOLERANCE})")
    if errors:
        sys.exit("VERIFICATION FAILED: " + "; ".join(errors))
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "model")
    parser.add_argument("--heldout", type=Path, default=HERE / "heldout")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-images", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    if (HERE / "labels.txt").read_text().split() != list(CLASSES):
        sys.exit(f"labels.txt does not list {', '.join(CLASSES)}, one a line")

    start = time.perf_counter()
    images, labels = generate(args.train_images, seed=args.seed)
    test_images, test_labels = generate(N_HELDOUT, seed=args.seed + 1000)
    shapes = sum(len(f) for f in labels)
    print(f"generated {len(images)} training images ({shapes} shapes) in {time.perf_counter() - start:.1f} s")

    net = Detector()
    start = time.perf_counter()
    train(net, images, labels, args.epochs)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s")

    # the held-out set as PNG files, then read back: the model sees the pixels a caller would send
    args.heldout.mkdir(parents=True, exist_ok=True)
    names = [f"{n:04d}.png" for n in range(N_HELDOUT)]
    for name, img in zip(names, test_images):
        write_png(args.heldout / name, img)
    decoded = np.stack([read_png(args.heldout / name) for name in names])
    if not np.array_equal(decoded, test_images):
        sys.exit("VERIFICATION FAILED: the PNG files do not hold the generated pixels")
    x_test = to_input(decoded)

    net.eval()
    with torch.no_grad():
        torch_out = net(torch.from_numpy(x_test)).numpy()
    torch_map = quality.map50([quality.detections(o) for o in torch_out], test_labels, len(CLASSES))
    print(f"held-out mAP@0.5 (PyTorch): {torch_map:.4f} on {N_HELDOUT} images")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "detector.onnx"
    opset = export(net, path)
    session = verify(path, x_test, torch_out, opset)
    (ort_out,) = session.run(["output0"], {"images": x_test})
    found = [quality.detections(o) for o in ort_out]
    score = quality.map50(found, test_labels, len(CLASSES))
    print(f"held-out mAP@0.5 (ONNX Runtime, PNG pixels, LIT's post-processing): {score:.4f}")
    print(
        f"detections per image: {sum(map(len, found)) / N_HELDOUT:.2f} (shapes per image: "
        f"{sum(map(len, test_labels)) / N_HELDOUT:.2f})"
    )

    doc = {
        "classes": list(CLASSES),
        "images": dict(zip(names, test_labels)),
        "map50": {"in_process": score},
    }
    (args.heldout / "labels.json").write_text(json.dumps(doc, indent=1) + "\n")
    for f in (path, path.with_name(path.name + ".data"), args.heldout / "labels.json"):
        print(f"wrote {f} ({f.stat().st_size} bytes)" if f.exists() else f"missing {f}")
    print(f"OK: opset {opset}, external weights, ONNX Runtime matches PyTorch within {TOLERANCE}, mAP@0.5 {score:.4f}")


if __name__ == "__main__":
    main()
