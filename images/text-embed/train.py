"""A small sentence encoder trained contrastively on Debian's fortunes topics, exported to ONNX with its tokenizer.

Trains a BPE tokenizer (Hugging Face tokenizers) and a 2-layer transformer encoder (d=64) on 80% of six topics of
Debian's `fortunes` package (apt-get install fortunes), so that texts of one topic end up close together: a
supervised contrastive loss over the batch (Khosla et al. 2020) plus the same softmax over one learned anchor per
topic, both at temperature 0.1 on L2-normalised, mask-mean-pooled token vectors. Exports it with torch.onnx.export's
defaults (dynamo, weights in encoder.onnx.data), batch and sequence dims dynamic: inputs input_ids and
attention_mask (int64 [batch, sequence]), output last_hidden_state (float32 [batch, sequence, 64]), unpooled as
Hugging Face encoders export it; LIT's runtime pools it (lit.toml [embed]). Needs the export venv (see
images/text-topics/train.py):

    .venv-export/bin/python images/text-embed/train.py [--out DIR] [--epochs 30]

Writes DIR/encoder.onnx (+ .data), DIR/tokenizer.json and heldout.json, checks that ONNX Runtime's pooled vectors
match PyTorch's within 1e-4 however the texts are padded, and scores same-topic precision@5 on the held-out 20%
(quality.py) for the exported model in ONNX Runtime and for a TF-IDF baseline, which the model must beat by MARGIN.
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

import numpy as np
import onnx
import onnxruntime as ort
import torch
from quality import pool, precision_at_k
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from torch import nn

HERE = Path(__file__).resolve().parent
FORTUNES = Path("/usr/share/games/fortunes")
TOPICS = ("computers", "drugs", "food", "law", "politics", "sports")
CAP, SEED, VOCAB, MAX_LENGTH, N_CHECK, TOLERANCE, K, MARGIN = 500, 0, 4000, 64, 64, 1e-4, 5, 0.05
DIM, BATCH, LR, TEMPERATURE, PROXY = 64, 64, 1e-2, 0.1, 1.0
WEIGHT_DECAY, EMBED_DECAY, TOKEN_DROP, WINDOW = 0.1, 1.0, 0.2, 32
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]"]  # [PAD] = 0, as the runtime pads with
OUTPUT = "last_hidden_state"


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


class Encoder(nn.Module):
    """Token + position embeddings and a post-norm transformer encoder; returns every token's vector."""

    def __init__(self, vocab: int, dim: int = DIM, max_positions: int = 128) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, dim, padding_idx=0)
        self.positions = nn.Embedding(max_positions, dim)
        # small: positions add the same vector to every text's mean (std 1, the default: precision@5 0.48, not 0.56)
        nn.init.normal_(self.positions.weight, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=4 * dim, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.tokens(input_ids) + self.positions(torch.arange(input_ids.shape[1], device=input_ids.device))
        return self.encoder(x, src_key_padding_mask=attention_mask == 0)  # pads are never attended to


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """As the runtime pools: the mean over real tokens, then L2 normalisation."""
    keep = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return nn.functional.normalize((hidden * keep).sum(1) / keep.sum(1).clamp(min=1e-9), dim=-1)


def supcon_loss(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020): each text's softmax over the batch's other texts, at
    TEMPERATURE, should put its mass on texts of its own topic."""
    eye = torch.eye(len(z), dtype=torch.bool)
    log_prob = (z @ z.T / TEMPERATURE).masked_fill(eye, -1e9).log_softmax(1)
    positives = (y[:, None] == y[None, :]) & ~eye
    per_anchor = -log_prob.masked_fill(~positives, 0).sum(1) / positives.sum(1).clamp(min=1)
    return per_anchor[positives.any(1)].mean()


def augment(seq: list[int]) -> list[int]:
    """Training noise against overfitting: a random window of a long text, about TOKEN_DROP of its tokens dropped."""
    if len(seq) > WINDOW:
        start = 1 + int(torch.randint(len(seq) - WINDOW + 1, ()))
        seq = seq[:1] + seq[start : start + WINDOW - 1]
    keep = (torch.rand(len(seq) - 1) >= TOKEN_DROP).tolist()
    return seq[:1] + [t for t, k in zip(seq[1:], keep, strict=True) if k]  # [CLS] always kept


def proxy_loss(z: torch.Tensor, y: torch.Tensor, proxies: torch.Tensor) -> torch.Tensor:
    """The same softmax at TEMPERATURE over one learned anchor per topic (Proxy-NCA-like): a pull towards the topic
    that does not depend on what else is in the batch. Without it the in-batch loss collapses here (all vectors
    alike, loss ln(BATCH - 1)) at this LR, and reaches only about 0.43-0.49 precision@5 at LR 3e-3 where it learns."""
    return nn.functional.cross_entropy(z @ nn.functional.normalize(proxies, dim=1).T / TEMPERATURE, y)


def train(model: Encoder, tokenizer: Tokenizer, texts: list[str], labels: list[int], epochs: int) -> None:
    """AdamW with a one-cycle schedule, on batches of similar lengths (less padding to compute). The token
    embeddings decay harder (EMBED_DECAY): a token's vector fades unless the loss keeps it (0.47 at 0.3, 0.56 at 1)."""
    seqs, y = [e.ids for e in tokenizer.encode_batch(texts)], torch.tensor(labels)
    proxies = nn.Parameter(torch.randn(len(TOPICS), model.tokens.embedding_dim))
    others = [p for n, p in model.named_parameters() if n != "tokens.weight"]
    groups = [{"params": [model.tokens.weight], "weight_decay": EMBED_DECAY}, {"params": [*others, proxies]}]
    opt = torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=epochs * -(-len(texts) // BATCH))
    model.train()
    for epoch in range(epochs):
        perm, total = torch.randperm(len(texts)).tolist(), 0.0
        pools = [sorted(perm[i : i + 4 * BATCH], key=lambda j: len(seqs[j])) for i in range(0, len(perm), 4 * BATCH)]
        batches = [pool[i : i + BATCH] for pool in pools for i in range(0, len(pool), BATCH)]
        for b in torch.randperm(len(batches)).tolist():
            opt.zero_grad()
            ids, mask = pad([augment(seqs[j]) for j in batches[b]])
            z = mean_pool(model(ids, mask), mask)
            loss = supcon_loss(z, y[batches[b]]) + PROXY * proxy_loss(z, y[batches[b]], proxies)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(batches[b])
        if epoch % 5 == 4 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}: loss {total / len(texts):.4f}")


@torch.no_grad()
def embed(model: Encoder, tokenizer: Tokenizer, texts: list[str], width: int | None, size: int = 64) -> np.ndarray:
    """Pooled, normalised vectors, in batches of `size` padded to `width` or to their longest text."""
    chunks = [encode(tokenizer, texts[i : i + size], width) for i in range(0, len(texts), size)]
    return torch.cat([mean_pool(model.eval()(ids, mask), mask) for ids, mask in chunks]).numpy()


def export(model: Encoder, example: tuple[torch.Tensor, torch.Tensor], path: Path) -> int:
    """Exports with dynamic batch and sequence dims; returns the opset."""
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("sequence", max=128)}
    torch.onnx.export(
        model.eval(),
        example,
        path,
        input_names=["input_ids", "attention_mask"],
        output_names=[OUTPUT],
        dynamic_shapes=(dims, dims),
        external_data=True,
    )
    return next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain == "")


def ort_embed(session: ort.InferenceSession, tokenizer: Tokenizer, texts: list[str], width: int | None, size: int = 64):
    """ONNX Runtime's last_hidden_state for `texts`, pooled in numpy (quality.pool, as the runtime does)."""
    vectors = []
    for i in range(0, len(texts), size):
        ids, mask = (t.numpy() for t in encode(tokenizer, texts[i : i + size], width))
        (hidden,) = session.run([OUTPUT], {"input_ids": ids, "attention_mask": mask})
        vectors.append(pool(hidden, mask))
    return np.concatenate(vectors)


def verify(session: ort.InferenceSession, tokenizer: Tokenizer, texts: list[str], torch_vectors: np.ndarray) -> None:
    """Fails loudly unless ONNX Runtime's pooled vectors match PyTorch's, however the texts are padded."""
    outputs = [(o.name, o.type, o.shape) for o in session.get_outputs()]
    print(f"inputs {[(i.name, i.type, i.shape) for i in session.get_inputs()]}, outputs {outputs}")
    errors = [] if [o[0] for o in outputs] == [OUTPUT] else [f"outputs are {outputs}, not just {OUTPUT}"]
    for how, width, size in (("to 64", MAX_LENGTH, N_CHECK), ("to the longest of 8", None, 8), ("not at all", None, 1)):
        diff = float(
            np.abs(ort_embed(session, tokenizer, texts[:N_CHECK], width, size) - torch_vectors[:N_CHECK]).max()
        )
        print(f"onnxruntime vs PyTorch pooled vectors of {N_CHECK} texts padded {how}: max |diff| = {diff:.2e}")
        if not diff <= TOLERANCE:
            errors.append(f"padded {how}: max |diff| {diff:.2e} > {TOLERANCE}")
    if errors:
        sys.exit("VERIFICATION FAILED: " + "; ".join(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "model")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(2)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    texts, labels = load_data()
    split = train_test_split(texts, labels, test_size=0.2, random_state=SEED, stratify=labels)
    x_train, x_test, y_train, y_test = split
    tokenizer = train_tokenizer(x_train)
    model = Encoder(tokenizer.get_vocab_size())
    start = time.perf_counter()
    train(model, tokenizer, x_train, y_train, args.epochs)
    print(f"trained {args.epochs} epochs on {len(x_train)} texts in {time.perf_counter() - start:.1f} s")
    vectors = embed(model, tokenizer, x_test, None)  # as served: padded to the longest text of the batch
    print(f"held-out precision@{K} (PyTorch): {precision_at_k(vectors, y_test, K):.4f} on {len(x_test)} texts")

    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(args.out / "tokenizer.json"))
    opset = export(model, encode(tokenizer, x_test[:2], MAX_LENGTH), args.out / "encoder.onnx")
    session = ort.InferenceSession(str(args.out / "encoder.onnx"), providers=["CPUExecutionProvider"])
    verify(session, tokenizer, x_test, vectors)

    tfidf = TfidfVectorizer().fit(x_train)
    scores = {
        "model_in_process": precision_at_k(ort_embed(session, tokenizer, x_test, None), y_test, K),
        "tfidf": precision_at_k(tfidf.transform(x_test).toarray(), y_test, K),
    }
    heldout = {"topics": list(TOPICS), "texts": x_test, "labels": y_test, f"precision_at_{K}": scores}
    (HERE / "heldout.json").write_text(json.dumps(heldout))
    for f in [*sorted(args.out.iterdir()), HERE / "heldout.json"]:
        print(f"wrote {f} ({f.stat().st_size} bytes)")
    print(
        f"held-out precision@{K}: model (ONNX Runtime) {scores['model_in_process']:.4f}, TF-IDF {scores['tfidf']:.4f}"
    )
    if not scores["model_in_process"] >= scores["tfidf"] + MARGIN:
        sys.exit(f"the model does not beat the TF-IDF baseline by {MARGIN}")
    print(f"OK: opset {opset}, ONNX Runtime matches PyTorch within {TOLERANCE}")


if __name__ == "__main__":
    main()
