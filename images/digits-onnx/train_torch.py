"""The ONNX example: a small PyTorch CNN trained on scikit-learn's 8x8 digits, exported to ONNX.

LIT converts the ONNX file to an MXNet checkpoint at build time (`format = "onnx"`). Exported with
today's defaults (initializers not listed as graph inputs), which LIT's conversion handles.

    python images/digits-onnx/train_torch.py [--epochs 15]
Writes model/digits.onnx and samples.json (held-out inputs with PyTorch's own outputs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = Path(__file__).resolve().parent


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU()
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=HERE / "model")
    args = parser.parse_args()
    torch.manual_seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(args.epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(x_test)).numpy()
    print(f"held-out accuracy (PyTorch): {(logits.argmax(1) == y_test).mean():.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        torch.zeros(1, 1, 8, 8),
        str(args.out / "digits.onnx"),
        input_names=["input"],
        output_names=["logits"],
        opset_version=11,
        dynamo=False,
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    samples = {"inputs": x_test[:16].tolist(), "torch_outputs": logits[:16].tolist(), "labels": y_test[:16].tolist()}
    (HERE / "samples.json").write_text(json.dumps(samples))
    print(f"wrote {args.out / 'digits.onnx'} and samples.json")


if __name__ == "__main__":
    main()
