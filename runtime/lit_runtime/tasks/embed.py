"""embed: one vector per input. A pooled output ([batch, dim]) is answered as it is; a sequence
output ([batch, tokens, dim], a transformer's last_hidden_state) is pooled over the attention mask:
mean (the default, as sentence-transformers do), cls (the first token) or max. `normalize` scales
each vector to unit length (so a dot product is the cosine similarity)."""

from __future__ import annotations

from typing import Any

from ..engine import Port
from ..errors import ModelError

POOLED_HINTS = ("sentence_embedding", "embedding", "pooler_output", "pooled")


class Embed:
    name = "embed"

    def __init__(self) -> None:
        self.found: dict[tuple[Any, ...], str] = {}  # outputs' (name, rank, dtype)s -> the embedding's name

    def output(self, outputs: tuple[Port, ...], conf: Any) -> Port | None:
        """The output that holds the embedding: [embed] output, else a pooled one by its name, else
        the first sequence output, else the first [batch, dim] one."""
        if conf.embed.output is not None:
            return next((p for p in outputs if p.name == conf.embed.output), None)
        ranked = [p for p in outputs if p.shape is None or len(p.shape) in (2, 3)]
        for port in ranked:
            if port.shape is not None and len(port.shape) == 2 and any(h in port.name.lower() for h in POOLED_HINTS):
                return port
        for rank in (3, 2):
            for port in ranked:
                if port.shape is not None and len(port.shape) == rank:
                    return port
        return ranked[0] if ranked else None

    def fits(self, outputs: tuple[Port, ...], conf: Any) -> str | None:
        port = self.output(outputs, conf)
        if port is None:
            if conf.embed.output is not None:
                return f"[embed] output = {conf.embed.output!r} is not one of the graph's outputs"
            return "embed reads a [batch, dim] or [batch, tokens, dim] output, and the graph has none"
        if port.shape is not None and len(port.shape) not in (2, 3):
            return f"embed reads a [batch, dim] or [batch, tokens, dim] output, and {port.spec()} is neither"
        if port.dtype not in ("float32", "float64", "float16"):
            return f"embed reads a float output, and {port.spec()} is not one"
        return None

    def vectors(self, outputs: dict[str, Any], ctx: Any) -> Any:
        import numpy as np

        hidden = outputs[self.which(outputs, ctx)].astype(np.float32, copy=False)
        opts = ctx.settings.embed
        if hidden.ndim == 3:
            mask = attention_mask(ctx, hidden.shape[:2])
            if opts.pooling == "cls":
                vecs = hidden[:, 0]
            elif opts.pooling == "max":
                vecs = np.where(mask[:, :, None] > 0, hidden, -np.inf).max(axis=1)
            else:
                weights = mask[:, :, None].astype(np.float32)
                vecs = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        else:
            vecs = hidden
        if opts.normalize:
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def which(self, outputs: dict[str, Any], ctx: Any) -> str:
        """The name of the output that holds the embedding (worked out once per output layout)."""
        from . import ports

        key = (ctx.settings.embed.output, *((k, v.ndim, v.dtype.char) for k, v in outputs.items()))
        name = self.found.get(key)
        if name is None:
            port = self.output(ports(outputs), ctx.settings)
            if port is None or (why := self.fits((port,), ctx.settings)) is not None:
                raise ModelError(f"the model's outputs do not fit task embed: {why or 'no embedding output'}")
            name = self.found[key] = port.name
        return name

    def answers(self, outputs: dict[str, Any], ctx: Any) -> list[Any]:
        return list(self.vectors(outputs, ctx).tolist())

    def arrays(self, outputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"embeddings": self.vectors(outputs, ctx)}


def attention_mask(ctx: Any, shape: tuple[int, int]) -> Any:
    """The batch's attention mask ([batch, tokens], 1 for a real token), as fed to the model: the
    text input's mask, or a tensor input named like one; all ones when the model takes none."""
    import numpy as np

    batch = getattr(ctx, "batch", None)
    if isinstance(batch, dict):
        feeds = ctx.state.get("text_feeds")
        name = feeds.mask if feeds is not None else next((k for k in batch if "mask" in k.lower()), None)
        if name is not None and name in batch and tuple(np.shape(batch[name])) == tuple(shape):
            return np.asarray(batch[name])
    return np.ones(shape, np.int64)


TASK = Embed()
