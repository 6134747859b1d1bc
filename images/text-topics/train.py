"""A small transformer that tells the topic of a Debian fortune, exported to ONNX with its tokenizer.

Reads six topic files of Debian's `fortunes` package (apt-get install fortunes), trains a WordPiece
tokenizer (Hugging Face tokenizers) and a 2-layer transformer encoder on 80% of the entries, and exports
it with torch.onnx.export's defaults (dynamo, opset 18+, weights in topics.onnx.data), dynamic batch and
sequence dims; `--legacy` exports with the TorchScript exporter at opset 17 instead. The exporter needs
onnxscript and a newer onnx than the main venv has, so this runs in its own environment:

    python3 -m venv .venv-export
    .venv-export/bin/pip install torch==2.13.0 onnxscript==0.7.2 onnx==1.23.2 onnxruntime==1.32.0 \
        tokenizers==0.23.3 scikit-learn==1.9.1 numpy==2.4.6

    .venv-export/bin/python images/text-topics/train.py [--out DIR] [--epochs 20] [--legacy]

Writes DIR/topics.onnx (+ .data), DIR/tokenizer.json, DIR/labels.txt, labels.txt and heldout.json, then
checks that ONNX Runtime matches PyTorch.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.model_selection import train_test_split
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from torch import nn

HERE = Path(__file__).resolve().parent
FORTUNES = Path("/usr/share/games/fortunes")
TOPICS = ("computers", "drugs", "food", "law", "politics", "sports")
CAP, SEED, VOCAB, MAX_LENGTH, N_CHECK, TOLERANCE = 400, 0, 6000, 64, 64, 1e-4


def read_topic(name: str) -> list[str]:
    """The entries of one fortunes file: overstrikes removed, whitespace normalised, no empties."""
    raw = re.sub(r".\x08", "", (FORTUNES / name).read_text(encoding="utf-8", errors="replace"))
    return [text for entry in re.split(r"^%\s*$", raw, flags=re.M) if (text := " ".join(entry.split()))]


def load_data() -> tuple[list[str], list[int]]:
    """Texts and labels; entries found twice are dropped, classes capped at CAP (a seeded sample)."""
    entries = {t: read_topic(t) for t in TOPICS}
    seen: dict[str, int] = {}
    for found in entries.values():
        for text in set(found):
            seen[text] = seen.get(text, 0) + 1
    texts, labels, rng = [], [], random.Random(SEED)
    for label, topic in enumerate(TOPICS):
        unique = sorted({t for t in entries[topic] if seen[t] == 1})
        kept = sorted(rng.sample(unique, CAP)) if len(unique) > CAP else unique
        print(f"{topic:10s} {len(entries[topic]):5d} entries, {len(unique):5d} unique, {len(kept):4d} kept")
        texts += kept
        labels += [label] * len(kept)
    return texts, labels


def train_tokenizer(texts: list[str]) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # whitespace and punctuation
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=VOCAB, special_tokens=["[PAD]", "[UNK]", "[CLS]"])
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", 2)])
    assert tokenizer.token_to_id("[PAD]") == 0 and tokenizer.token_to_id("[CLS]") == 2
    return tokenizer


def encode(tokenizer: Tokenizer, texts: list[str], width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """As LIT's runtime does: truncate to MAX_LENGTH, pad with 0 to `width` or to the longest text."""
    encodings = tokenizer.encode_batch(texts)
    width = width or min(max(len(e.ids) for e in encodings), MAX_LENGTH)
    ids, mask = torch.zeros(len(texts), width, dtype=torch.int64), torch.zeros(len(texts), width, dtype=torch.int64)
    for row, enc in enumerate(encodings):
        n = min(len(enc.ids), width)
        ids[row, :n], mask[row, :n] = torch.tensor(enc.ids[:n]), 1
    return ids, mask


class TopicModel(nn.Module):
    def __init__(self, vocab: int, n_classes: int, dim: int = 128, max_positions: int = 128) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, dim, padding_idx=0)
        self.positions = nn.Embedding(max_positions, dim)
        layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=256, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.tokens(input_ids) + self.positions(positions)
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        keep = attention_mask.unsqueeze(-1).to(x.dtype)
        return self.head((x * keep).sum(1) / keep.sum(1).clamp(min=1.0))  # mean over the real tokens


def train(model: TopicModel, tokenizer: Tokenizer, texts: list[str], labels: list[int], epochs: int) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=epochs * -(-len(texts) // 32))
    y = torch.tensor(labels)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(texts)).tolist()
        for i in range(0, len(texts), 32):
            idx = perm[i : i + 32]
            opt.zero_grad()
            logits = model(*encode(tokenizer, [texts[j] for j in idx]))
            nn.functional.cross_entropy(logits, y[idx], label_smoothing=0.1).backward()
            opt.step()
            sched.step()


@torch.no_grad()
def predict(model: TopicModel, tokenizer: Tokenizer, texts: list[str], width: int | None = None) -> np.ndarray:
    model.eval()
    return torch.cat([model(*encode(tokenizer, texts[i : i + 64], width)) for i in range(0, len(texts), 64)]).numpy()


def export(model: TopicModel, example: tuple[torch.Tensor, torch.Tensor], path: Path, legacy: bool) -> int:
    """Exports with dynamic batch and sequence dims; returns the opset."""
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    names = {"input_names": ["input_ids", "attention_mask"], "output_names": ["logits"]}
    if legacy:
        axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
        torch.onnx.export(
            model.eval(), example, path, **names, opset_version=17, dynamo=False, dynamic_axes=axes | {"logits": {0: "batch"}}
        )
    else:
        dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("sequence", max=128)}
        torch.onnx.export(model.eval(), example, path, **names, dynamic_shapes=(dims, dims), external_data=True)
    return next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain in ("", "ai.onnx"))


def verify(path: Path, tokenizer: Tokenizer, texts: list[str], labels: list[int], torch_logits: np.ndarray) -> None:
    """Fails loudly unless ONNX Runtime matches PyTorch's logits and accuracy."""
    session, errors = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), []

    def run(batch: list[str], width: int | None) -> np.ndarray:
        ids, mask = encode(tokenizer, batch, width)
        return session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]

    for width in (MAX_LENGTH, None):
        diff = float(np.abs(run(texts[:N_CHECK], width) - torch_logits[:N_CHECK]).max())
        print(f"onnxruntime vs PyTorch, padded to {width or 'the longest'}: max |diff| = {diff:.2e}")
        if not diff <= TOLERANCE:
            errors.append(f"padded to {width or 'the longest'}: max |diff| {diff:.2e} > {TOLERANCE}")
    ort_pred = np.concatenate([run(texts[i : i + 64], None) for i in range(0, len(texts), 64)]).argmax(1)
    ort_acc, torch_acc = float((ort_pred == labels).mean()), float((torch_logits.argmax(1) == labels).mean())
    print(f"held-out accuracy: onnxruntime {ort_acc:.4f}, PyTorch {torch_acc:.4f}")
    if ort_acc != torch_acc:
        errors.append(f"onnxruntime accuracy {ort_acc} != PyTorch's {torch_acc}")
    if errors:
        sys.exit("VERIFICATION FAILED: " + "; ".join(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "model")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--legacy", action="store_true", help="TorchScript exporter, opset 17 (give a separate --out)")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    texts, labels = load_data()
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, random_state=SEED, stratify=labels
    )
    tokenizer = train_tokenizer(x_train)
    model = TopicModel(tokenizer.get_vocab_size(), len(TOPICS))
    start = time.perf_counter()
    train(model, tokenizer, x_train, y_train, args.epochs)
    print(f"trained {args.epochs} epochs on {len(x_train)} texts in {time.perf_counter() - start:.1f} s")
    logits = predict(model, tokenizer, x_test)  # padded to the longest text of each batch of 64, as served
    padded = predict(model, tokenizer, x_test, MAX_LENGTH)
    accuracy = float((logits.argmax(1) == np.array(y_test)).mean())
    print(f"held-out accuracy (PyTorch): {accuracy:.4f} on {len(x_test)} texts; padding changes logits by "
          f"{np.abs(logits - padded).max():.2e}")

    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(args.out / "tokenizer.json"))
    for where in {args.out, HERE}:
        (where / "labels.txt").write_text("".join(f"{t}\n" for t in TOPICS))
    heldout = {"texts": x_test, "labels": y_test, "topics": list(TOPICS), "torch_logits": logits[:N_CHECK].tolist(),
               "accuracy": accuracy, "max_length": MAX_LENGTH}
    (HERE / "heldout.json").write_text(json.dumps(heldout, indent=1))
    path = args.out / "topics.onnx"
    opset = export(model, encode(tokenizer, x_test[:2], MAX_LENGTH), path, args.legacy)
    for f in sorted(args.out.iterdir()) + [HERE / "heldout.json"]:
        print(f"wrote {f} ({f.stat().st_size} bytes)")
    verify(path, tokenizer, x_test, np.array(y_test), logits)
    print(f"OK: opset {opset}, ONNX Runtime matches PyTorch within {TOLERANCE}")


if __name__ == "__main__":
    main()
