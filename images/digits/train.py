"""Train the example model: a small CNN on scikit-learn's bundled 8x8 digits (no download).

Writes model/digits-symbol.json + model/digits-0000.params (HybridBlock.export) and, for the
end-to-end checks, the held-out test digits as PNG files under heldout/ with heldout/labels.json.

    python images/digits/train.py [--epochs 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def network() -> gluon.HybridBlock:
    net = gluon.nn.HybridSequential()
    net.add(
        gluon.nn.Conv2D(32, kernel_size=3, padding=1, activation="relu"),
        gluon.nn.Conv2D(32, kernel_size=3, padding=1, activation="relu"),
        gluon.nn.MaxPool2D(pool_size=2),
        gluon.nn.Flatten(),
        gluon.nn.Dense(64, activation="relu"),
        gluon.nn.Dropout(0.2),
        gluon.nn.Dense(10),
    )
    return net


def to_pixels(images: np.ndarray) -> np.ndarray:
    """sklearn's digits are 0..16; as 8-bit images they are 0..255 (what the PNGs hold)."""
    return np.clip(np.round(images * 255.0 / 16.0), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "model")
    parser.add_argument("--heldout", type=Path, default=HERE / "heldout")
    args = parser.parse_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    mx.random.seed(args.seed)

    digits = load_digits()
    pixels = to_pixels(digits.images)
    x_train, x_test, y_train, y_test = train_test_split(
        pixels, digits.target, test_size=0.25, random_state=args.seed, stratify=digits.target
    )
    scale = lambda x: (x.astype(np.float32) / 255.0)[:, None, :, :]  # noqa: E731  (N, 1, 8, 8)

    net = network()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    loader = gluon.data.DataLoader(
        gluon.data.ArrayDataset(mx.nd.array(scale(x_train)), mx.nd.array(y_train)), batch_size=64, shuffle=True
    )
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 2e-3})
    for epoch in range(args.epochs):
        total = 0.0
        for data, label in loader:
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
            total += loss.sum().asscalar()
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            print(f"epoch {epoch + 1}: loss {total / len(x_train):.4f}")

    predictions = net(mx.nd.array(scale(x_test))).argmax(axis=1).asnumpy().astype(int)
    accuracy = float((predictions == y_test).mean())
    print(f"held-out accuracy (in process): {accuracy:.4f} on {len(y_test)} digits")

    args.out.mkdir(parents=True, exist_ok=True)
    net.export(str(args.out / "digits"), epoch=0)
    args.heldout.mkdir(parents=True, exist_ok=True)
    labels = {}
    for i, (img, label) in enumerate(zip(x_test, y_test)):
        name = f"{i:04d}.png"
        cv2.imwrite(str(args.heldout / name), img)
        labels[name] = int(label)
    (args.heldout / "labels.json").write_text(json.dumps({"accuracy": accuracy, "labels": labels}, indent=0))
    print(f"wrote {args.out}/digits-symbol.json, digits-0000.params and {len(labels)} PNGs in {args.heldout}")


if __name__ == "__main__":
    main()
