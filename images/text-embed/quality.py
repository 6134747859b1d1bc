"""Retrieval quality of text embeddings, in plain numpy (no torch or scikit-learn, so tests can import it anywhere).

`pool` is what LIT's runtime does with a [batch, tokens, dim] output under [embed] pooling = "mean" and
normalize = true; `precision_at_k` scores vectors by how many of each one's nearest neighbours share its label.
"""

from __future__ import annotations

import numpy as np


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean of `hidden` [batch, tokens, dim] over the tokens where `mask` [batch, tokens] is set, L2-normalised."""
    weights = np.asarray(mask)[:, :, None].astype(np.float32)
    mean = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def precision_at_k(vectors: np.ndarray, labels: list[int], k: int = 5) -> float:
    """Same-label precision@k: for each row, the fraction of its k most cosine-similar OTHER rows that share its
    label, averaged over rows. Ties go to the lower row index."""
    vectors, labels_ = normalize(vectors), np.asarray(labels)
    n = len(vectors)
    if vectors.ndim != 2 or labels_.shape != (n,):
        raise ValueError(f"need vectors [n, dim] and n labels, got {vectors.shape} and {labels_.shape}")
    if not 0 < k < n:
        raise ValueError(f"k must be in 1..{n - 1} for {n} vectors, got {k}")
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)  # never its own neighbour
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return float((labels_[top] == labels_[:, None]).mean())
