"""A small residual PyTorch CNN on scikit-learn's 8x8 digits, exported with torch.onnx.export's defaults.

The default (dynamo) exporter writes opset 18+ with the weights in an external data file beside the graph
(model/cnn.onnx + model/cnn.onnx.data), which LIT serves as exported with ONNX Runtime. The exporter needs
onnxscript and a newer onnx than the main venv has, so this runs in its own environment:

    python3 -m venv .venv-export
    .venv-export/bin/pip install torch==2.13.0 onnxscript==0.7.2 onnx==1.23.2 onnxruntime==1.32.0 \
        tokenizers==0.23.3 scikit-learn==1.9.1 numpy==2.4.6

    .venv-export/bin/python images/cnn-onnx/train.py [--out DIR] [--epochs 12]

Writes DIR/cnn.onnx, DIR/cnn.onnx.data and samples.json (32 held-out inputs with PyTorch's logits, their
labels, PyTorch's held-out accuracy and the exported opset), then checks that ONNX Runtime matches PyTorch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = Path(__file__).resolve().parent
N_SAMPLES = 32
TOLERANCE = 1e-4


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_bn(channels, channels), nn.ReLU(), *conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class ResNet(nn.Module):
    def __init__(self, channels: int = 32, n_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, channels), nn.ReLU())
        self.blocks = nn.Sequential(ResidualBlock(channels), ResidualBlock(channels))
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.head(x.mean(dim=(2, 3)))  # global average pooling


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()


def export(net: nn.Module, path: Path) -> int:
    """Exports with the default (dynamo) exporter and a dynamic batch dim; returns the opset."""
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    torch.onnx.export(
        net.eval(),
        (torch.zeros(1, 1, 8, 8),),
        path,
        input_names=["input"],
        output_names=["logits"],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        external_data=True,
    )
    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def verify(path: Path, inputs: np.ndarray, torch_logits: np.ndarray, opset: int) -> None:
    """Fails loudly unless the export has the external weights, opset 18+ and ONNX Runtime matches PyTorch."""
    errors = []
    if opset < 18:
        errors.append(f"opset {opset} < 18")
    if not path.with_name(path.name + ".data").is_file():
        errors.append(f"no external data file beside {path.name}")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (inputs, inputs[:1], inputs[:7]):
        (got,) = session.run(["logits"], {"input": batch})
        diff = float(np.abs(got - torch_logits[: len(batch)]).max())
        print(f"onnxruntime vs PyTorch, batch {len(batch)}: max |diff| = {diff:.2e}")
        if not diff <= TOLERANCE:
            errors.append(f"batch {len(batch)}: max |diff| {diff:.2e} > {TOLERANCE}")
    if errors:
        sys.exit("VERIFICATION FAILED: " + "; ".join(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "model")
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    torch.manual_seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=0)

    net = ResNet()
    start = time.perf_counter()
    train(net, torch.from_numpy(x_train), torch.from_numpy(y_train), args.epochs)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s")
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(x_test)).numpy()
    accuracy = float((logits.argmax(1) == y_test).mean())
    print(f"held-out accuracy (PyTorch): {accuracy:.4f} on {len(y_test)} images")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "cnn.onnx"
    opset = export(net, path)
    samples = {
        "inputs": x_test[:N_SAMPLES].tolist(),
        "torch_outputs": logits[:N_SAMPLES].tolist(),
        "labels": y_test[:N_SAMPLES].tolist(),
        "accuracy": accuracy,
        "opset": opset,
    }
    (HERE / "samples.json").write_text(json.dumps(samples))
    for f in (path, path.with_name(path.name + ".data"), HERE / "samples.json"):
        print(f"wrote {f} ({f.stat().st_size} bytes)" if f.exists() else f"missing {f}")
    verify(path, x_test[:N_SAMPLES], logits[:N_SAMPLES], opset)
    print(f"OK: opset {opset}, external weights, ONNX Runtime matches PyTorch within {TOLERANCE}")


if __name__ == "__main__":
    main()
