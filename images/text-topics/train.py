"""A small transformer that tells the topic of a Debian fortune, exported to ONNX with its tokenizer.

Trains a BPE tokenizer (Hugging Face tokenizers) and a 2-layer transformer encoder on 80% of six topics of
Debian's `fortunes` package (apt-get install fortunes), and exports it with torch.onnx.export's defaults (dynamo,
opset 18+, weights in topics.onnx.data), batch and sequence dims dynamic; `--legacy` uses the TorchScript exporter
at opset 17 instead (give it another --out). The default exporter needs onnxscript and a newer onnx than the
main venv's, hence a venv of its own:

    python3 -m venv .venv-export
    .venv-export/bin/pip install torch==2.13.0 onnxscript==0.7.2 onnx==1.23.2 onnxruntime==1.32.0 \
        tokenizers==0.23.3 scikit-learn==1.9.1 numpy==2.4.6
    .venv-export/bin/python images/text-topics/train.py [--out DIR] [--epochs 25] [--legacy]

Writes DIR/topics.onnx (+ .data), DIR/tokenizer.json, DIR/labels.txt, labels.txt and heldout.json, then checks
that ONNX Runtime matches PyTorch (logits within 1e-4 however the texts are padded, and the same accuracy).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.model_selection import train_test_split
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from torch import nn

HERE = Path(__file__).resolve().parent
FORTUNES = Path("/usr/share/games/fortunes")
TOPICS = ("computers", "drugs", "food", "law", "politics", "sports")
CAP, SEED, VOCAB, MAX_LENGTH, N_CHECK, TOLERANCE = 500, 0, 4000, 64, 64, 1e-4
BATCH, LR, WEIGHT_DECAY, TOKEN_DROP = 32, 3e-3, 0.1, 0.3
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]"]  # [PAD] = 0, as the runtime pads with


def load_data() -> tuple[list[str], list[int]]:
    """Entries (overstrikes removed, whitespace normalised); empties and entries in two topics dropped."""
    entries = {}
    for topic in TOPICS:
        raw = re.sub(r".\x08", "", (FORTUNES / topic).read_text(encoding="utf-8", errors="replace"))
        entries[topic] = [" ".join(e.split()) for e in re.split(r"^%\s*$", raw, flags=re.M) if e.strip()]
    counts = Counter(text for found in entries.values() for text in set(found))
    texts, labels, rng = [], [], random.Random(SEED)
    for label, topic in enumerate(TOPICS):
        unique = sorted({t for t in entries[topic] if counts[t] == 1})
        kept = sorted(rng.sample(unique, CAP)) if len(unique) > CAP else unique  # a seeded sample past CAP
        print(f"{topic:10s} {len(entries[topic]):5d} entries, {len(unique):5d} unique, {len(kept):4d} kept")
        texts, labels = texts + kept, labels + [label] * len(kept)
    return texts, labels


def train_tokenizer(texts: list[str]) -> Tokenizer:
    """BPE without a continuing-subword prefix: its trainer is deterministic (WordPiece's breaks ties in hash order)."""
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    steps = [normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()]
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # splits on whitespace and punctuation
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", 2)])
    return tokenizer


def pad(seqs: list[list[int]], width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """As LIT's runtime does: truncate to MAX_LENGTH, pad with [PAD] = 0 to `width` or to the longest."""
    width = width or min(max(len(s) for s in seqs), MAX_LENGTH)
    ids, mask = torch.zeros(len(seqs), width, dtype=torch.int64), torch.zeros(len(seqs), width, dtype=torch.int64)
    for row, seq in enumerate(seqs):
        n = min(len(seq), width)
        ids[row, :n], mask[row, :n] = torch.tensor(seq[:n]), 1
    return ids, mask


def encode(tokenizer: Tokenizer, texts: list[str], width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    return pad([e.ids for e in tokenizer.encode_batch(texts)], width)


class TopicModel(nn.Module):
    def __init__(self, vocab: int, n_classes: int, dim: int = 128, max_positions: int = 128) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, dim, padding_idx=0)
        self.positions = nn.Embedding(max_positions, dim)
        layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=256, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.tokens(input_ids) + self.positions(torch.arange(input_ids.shape[1], device=input_ids.device))
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)  # pads are never attended to
        keep = attention_mask.unsqueeze(-1).to(x.dtype)
        return self.head((x * keep).sum(1) / keep.sum(1).clamp(min=1.0))  # the mean over real tokens


class TraceableSelfAttention(nn.Module):
    """nn.MultiheadAttention's eval-mode math on its own weights, with symbolic shapes. The TorchScript exporter
    bakes the example's batch and sequence sizes into MultiheadAttention's reshapes (pytorch/pytorch#110347)."""

    def __init__(self, mha: nn.MultiheadAttention) -> None:
        super().__init__()
        self.mha, self.batch_first = mha, mha.batch_first

    def forward(self, x: torch.Tensor, *_: Any, key_padding_mask: torch.Tensor, **__: Any) -> tuple[torch.Tensor, None]:
        qkv = nn.functional.linear(x, self.mha.in_proj_weight, self.mha.in_proj_bias)
        q, k, v = qkv.unflatten(-1, (3, self.mha.num_heads, -1)).permute(2, 0, 3, 1, 4).unbind(0)  # [B, H, T, D]
        bias = key_padding_mask[:, None, None, :]  # TransformerEncoder made it float: 0, or -inf at pads
        out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.mha.out_proj(out.transpose(1, 2).flatten(2)), None


def augment(seq: list[int]) -> list[int]:
    """Training noise against overfitting: a random window of a long text, about TOKEN_DROP of its tokens dropped."""
    if len(seq) > MAX_LENGTH:
        start = 1 + int(torch.randint(len(seq) - MAX_LENGTH + 1, ()))
        seq = seq[:1] + seq[start : start + MAX_LENGTH - 1]
    keep = (torch.rand(len(seq) - 1) >= TOKEN_DROP).tolist()
    return seq[:1] + [t for t, k in zip(seq[1:], keep, strict=True) if k]  # [CLS] always kept


def train(model: TopicModel, tokenizer: Tokenizer, texts: list[str], labels: list[int], epochs: int) -> None:
    """AdamW with a one-cycle schedule, on batches of similar lengths (less padding to compute)."""
    seqs, y = [e.ids for e in tokenizer.encode_batch(texts)], torch.tensor(labels)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=epochs * -(-len(texts) // BATCH))
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(texts)).tolist()
        pools = [sorted(perm[i : i + 8 * BATCH], key=lambda j: len(seqs[j])) for i in range(0, len(perm), 8 * BATCH)]
        batches = [pool[i : i + BATCH] for pool in pools for i in range(0, len(pool), BATCH)]
        for b in torch.randperm(len(batches)).tolist():
            opt.zero_grad()
            logits = model(*pad([augment(seqs[j]) for j in batches[b]]))
            nn.functional.cross_entropy(logits, y[batches[b]], label_smoothing=0.1).backward()
            opt.step()
            sched.step()


@torch.no_grad()
def predict(model: TopicModel, tokenizer: Tokenizer, texts: list[str], width: int | None, size: int = 64) -> np.ndarray:
    """Logits, in batches of `size` padded to `width` or to their longest text."""
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    return torch.cat([model.eval()(*encode(tokenizer, chunk, width)) for chunk in chunks]).numpy()


def export(model: TopicModel, example: tuple[torch.Tensor, torch.Tensor], path: Path, legacy: bool) -> int:
    """Exports with dynamic batch and sequence dims; returns the opset."""
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    names: dict[str, Any] = {"input_names": ["input_ids", "attention_mask"], "output_names": ["logits"]}
    if legacy:
        torch.backends.mha.set_fastpath_enabled(False)  # its fused kernel has no ONNX form
        for layer in model.encoder.layers:
            layer.self_attn = TraceableSelfAttention(layer.self_attn)
        axes = {n: {0: "batch", 1: "sequence"} for n in names["input_names"]} | {"logits": {0: "batch"}}
        torch.onnx.export(model.eval(), example, path, **names, opset_version=17, dynamo=False, dynamic_axes=axes)
    else:
        dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("sequence", max=128)}
        torch.onnx.export(model.eval(), example, path, **names, dynamic_shapes=(dims, dims), external_data=True)
    return onnx_opset(path)


def onnx_opset(path: Path) -> int:
    return next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain == "")


def verify(path: Path, tokenizer: Tokenizer, texts: list[str], labels: np.ndarray, torch_logits: np.ndarray) -> None:
    """Fails loudly unless ONNX Runtime matches PyTorch's logits, however padded, and its accuracy."""
    session, errors = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), []
    if (opset := onnx_opset(path)) != 17 and (opset < 18 or not path.with_name(path.name + ".data").is_file()):
        errors.append(f"a default export needs opset 18+ (got {opset}) and {path.name}.data beside it")

    def run(subset: list[str], width: int | None, size: int = N_CHECK) -> np.ndarray:
        feeds = [encode(tokenizer, subset[i : i + size], width) for i in range(0, len(subset), size)]
        return np.concatenate(
            [session.run(["logits"], {"input_ids": i.numpy(), "attention_mask": m.numpy()})[0] for i, m in feeds]
        )

    # torch_logits: the first 64 as one batch, padded to their longest (64 here); other paddings must agree.
    for how, width, size in (("to 64", MAX_LENGTH, N_CHECK), ("to the longest of 8", None, 8), ("not at all", None, 1)):
        diff = float(np.abs(run(texts[:N_CHECK], width, size) - torch_logits[:N_CHECK]).max())
        print(f"onnxruntime vs PyTorch on {N_CHECK} texts padded {how}: max |diff| = {diff:.2e}")
        if not diff <= TOLERANCE:
            errors.append(f"padded {how}: max |diff| {diff:.2e} > {TOLERANCE}")
    ort_pred = run(texts, None).argmax(1)
    ort_acc, torch_acc = float((ort_pred == labels).mean()), float((torch_logits.argmax(1) == labels).mean())
    print(f"held-out accuracy: onnxruntime {ort_acc:.4f}, PyTorch {torch_acc:.4f}")
    if ort_acc != torch_acc:
        errors.append(f"onnxruntime accuracy {ort_acc} != PyTorch's {torch_acc}")
    if errors:
        sys.exit(f"VERIFICATION FAILED for {path}: " + "; ".join(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "model")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--legacy", action="store_true", help="TorchScript exporter, opset 17")
    args = parser.parse_args()
    if args.legacy and args.out == HERE / "model":
        parser.error("--legacy needs an --out of its own")
    torch.manual_seed(SEED)
    texts, labels = load_data()
    split = train_test_split(texts, labels, test_size=0.2, random_state=SEED, stratify=labels)
    x_train, x_test, y_train, y_test = split
    tokenizer = train_tokenizer(x_train)
    model = TopicModel(tokenizer.get_vocab_size(), len(TOPICS))
    start = time.perf_counter()
    train(model, tokenizer, x_train, y_train, args.epochs)
    print(f"trained {args.epochs} epochs on {len(x_train)} texts in {time.perf_counter() - start:.1f} s")
    logits = predict(model, tokenizer, x_test, None)  # as served: padded to the longest text of the batch
    accuracy = float((logits.argmax(1) == np.array(y_test)).mean())
    shift = np.abs(predict(model, tokenizer, x_test, None, size=1) - logits).max()  # each text alone, unpadded
    print(f"held-out accuracy (PyTorch): {accuracy:.4f} on {len(x_test)} texts; padding moves logits {shift:.1e}")

    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(args.out / "tokenizer.json"))
    for where in {args.out, HERE}:
        (where / "labels.txt").write_text("".join(f"{t}\n" for t in TOPICS))
    heldout = {"texts": x_test, "labels": y_test, "topics": list(TOPICS), "torch_logits": logits[:N_CHECK].tolist()}
    (HERE / "heldout.json").write_text(json.dumps(heldout | {"accuracy": accuracy, "max_length": MAX_LENGTH}))
    opset = export(model, encode(tokenizer, x_test[:2], MAX_LENGTH), args.out / "topics.onnx", args.legacy)
    for f in [*sorted(args.out.iterdir()), HERE / "heldout.json"]:
        print(f"wrote {f} ({f.stat().st_size} bytes)")
    verify(args.out / "topics.onnx", tokenizer, x_test, np.array(y_test), logits)
    print(f"OK: opset {opset}, ONNX Runtime matches PyTorch within {TOLERANCE}")


if __name__ == "__main__":
    main()
