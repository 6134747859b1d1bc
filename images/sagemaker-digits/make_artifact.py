"""Make model.tar.gz, a SageMaker model artifact of the digits CNN: digits.onnx, labels.txt and
code/inference.py, laid out as SageMaker's framework containers unpack it into /opt/ml/model.

The model is images/digits' (trained on scikit-learn's digits by its train.py, run first when its
checkpoint is missing), exported to ONNX with LIT's own MXNet exporter. Then:

    lit init sm-digits --from images/sagemaker-digits/model.tar.gz
    lit build sm-digits && lit run sm-digits
    lit invoke sm-digits --image images/digits/heldout/0000.png

Run with the training environment's python (mxnet, onnx): `.venv/bin/python images/sagemaker-digits/make_artifact.py`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DIGITS = ROOT / "images" / "digits"


def make(out: Path, digits: Path = DIGITS) -> Path:
    if not (digits / "model" / "digits-0000.params").is_file():
        subprocess.run([sys.executable, str(digits / "train.py")], check=True, capture_output=True)
    sys.path.insert(0, str(ROOT / "runtime"))
    from lit_runtime import mx_export

    with tempfile.TemporaryDirectory(prefix="sm-artifact-") as tmp:
        stage = Path(tmp)
        exported = stage / "export"
        mx_export.export(digits / "model", exported, [1, 1, 8, 8], name="digits")
        files = {"digits.onnx": exported / "digits.onnx", "labels.txt": digits / "labels.txt"}
        files["code/inference.py"] = HERE / "code" / "inference.py"
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out, "w:gz") as tf:
            for name, path in files.items():
                tf.add(path, arcname=name)
        shutil.rmtree(exported, ignore_errors=True)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=HERE / "model.tar.gz")
    print(make(parser.parse_args().out))
