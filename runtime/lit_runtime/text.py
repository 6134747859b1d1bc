"""Text inputs: raw strings -> token ids and attention mask, with a Hugging Face tokenizer.json.

The tokenizer is loaded once at init. Which model input gets what is read off the graph's input
names (ids, attention mask, token type ids, position ids); the sequence is padded to the longest
text of the batch, or to max_length, or to the graph's own fixed length when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InputError, ModelError
from .settings import ConfigError, Settings, TextOptions

PAD_TOKENS = ("[PAD]", "<pad>", "<|pad|>", "[pad]")


@dataclass(frozen=True)
class Feeds:
    """Which model input takes which tokenizer output."""

    ids: str
    mask: str | None = None
    type_ids: str | None = None
    positions: str | None = None


def check(value: Any, what: str) -> str:
    """One text as a caller sent it: a non-blank string of valid Unicode, or a 400 saying why."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InputError(f"{what} is empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape in the event's JSON
        raise InputError(f"{what} is not valid Unicode text (a lone surrogate)") from None
    return value


def load(conf: Settings) -> Any:
    from tokenizers import Tokenizer

    path = options(conf).tokenizer or conf.model_dir / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"the tokenizer {path} is missing; save tokenizer.json beside the model")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a plain Exception on a malformed file
        raise ConfigError(f"{path} is not a tokenizers tokenizer.json: {exc}") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def feeds(names: tuple[str, ...]) -> Feeds:
    """Map the graph's input names to what the tokenizer gives."""
    roles: dict[str, str] = {}
    for name in names:
        low = name.lower()
        role = (
            "mask"
            if "mask" in low
            else "type_ids"
            if "type" in low or "segment" in low
            else "positions"
            if "position" in low
            else "ids"
        )
        if role in roles:
            raise ModelError(
                f"the model's inputs {roles[role]!r} and {name!r} both look like {role}; a text model takes "
                "token ids plus optionally attention_mask, token_type_ids and position_ids"
            )
        roles[role] = name
    if "ids" not in roles:
        raise ModelError(f"no model input takes token ids (inputs: {', '.join(names)})")
    return Feeds(roles["ids"], roles.get("mask"), roles.get("type_ids"), roles.get("positions"))


def pad_id(tokenizer: Any) -> int:
    for token in PAD_TOKENS:
        if (found := tokenizer.token_to_id(token)) is not None:
            return int(found)
    return 0


def options(conf: Settings) -> TextOptions:
    if conf.text is None:
        raise ConfigError(
            "[model] input is text but the image's configuration has no [text] options; rebuild it with `lit build`"
        )
    return conf.text


def head_chars(limit: int) -> int:
    """How much of a long text is tokenized at first: far more characters than `limit` tokens take."""
    return max(4096, 64 * limit)


def encode_long(text: str, tokenizer: Any, limit: int) -> Any:
    """The tokens of a long text's start, enough for its first `limit`: a 6 MB text costs the
    tokenizer a few KB, not seconds and hundreds of MB. The start is cut at whitespace, so no word is
    split, and grows (doubling) while it holds `limit` tokens or fewer, so the tokens the model sees
    are the ones the whole text gives. A "word" longer than half the start is taken by its start."""
    chars = head_chars(limit)
    while len(text) > chars:
        cut = text[:chars]
        space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if space <= chars // 2:
            return tokenizer.encode(cut)
        enc = tokenizer.encode(cut[:space])
        if len(enc.ids) > limit:
            return enc
        chars *= 2
    return tokenizer.encode(text)


def encode(texts: list[str], tokenizer: Any, opts: TextOptions, fixed: int | None) -> dict[str, Any]:
    """Token ids, attention mask and type ids for a batch, as int64 [batch, length] arrays."""
    import numpy as np

    limit = fixed or opts.max_length
    long = head_chars(limit)
    encodings = tokenizer.encode_batch([t if len(t) <= long else "" for t in texts])
    for i, text in enumerate(texts):
        if len(text) > long:
            encodings[i] = encode_long(text, tokenizer, limit)
    lengths = [len(e.ids) for e in encodings]
    if not opts.truncation and max(lengths) > limit:
        i = max(range(len(lengths)), key=lengths.__getitem__)
        size = f"over {limit} tokens" if len(texts[i]) > long else f"{lengths[i]} tokens, over {limit}"
        raise InputError(f"text {i} is {size} ([text] max_length, with truncation = false)", 413)
    if fixed or opts.padding == "max_length":
        width = limit
    else:
        width = min(max(max(lengths), 1), limit)
    ids = np.full((len(texts), width), pad_id(tokenizer), np.int64)
    mask = np.zeros((len(texts), width), np.int64)
    types = np.zeros((len(texts), width), np.int64)
    for row, enc in enumerate(encodings):
        n = min(len(enc.ids), width)
        ids[row, :n] = enc.ids[:n]
        mask[row, :n] = 1
        types[row, :n] = enc.type_ids[:n]
    return {"ids": ids, "mask": mask, "type_ids": types}


def preprocess(inputs: list[Any], ctx: Any) -> dict[str, Any]:
    """Strings -> {input name: int batch} for the model's inputs."""
    import numpy as np

    from .defaults import input_dtypes, input_names, input_ports

    for i, text in enumerate(inputs):  # a service.py hook may hand over inputs events never saw
        check(text, f"text {i}")
    names = input_names(ctx)
    mapping = ctx.state.get("text_feeds")
    if mapping is None:
        mapping = ctx.state["text_feeds"] = feeds(names)
    shape = next((p.shape for p in input_ports(ctx) if p.name == mapping.ids), None) or (None, None)
    fixed = shape[1] if len(shape) > 1 and isinstance(shape[1], int) else None
    encoded = encode(inputs, ctx.state["tokenizer"], options(ctx.settings), fixed)
    dtypes = input_dtypes(ctx)
    batch: dict[str, Any] = {mapping.ids: encoded["ids"]}
    if mapping.mask:
        batch[mapping.mask] = encoded["mask"]
    if mapping.type_ids:
        batch[mapping.type_ids] = encoded["type_ids"]
    if mapping.positions:
        width = encoded["ids"].shape[1]
        batch[mapping.positions] = np.broadcast_to(np.arange(width, dtype=np.int64), encoded["ids"].shape)
    return {name: np.ascontiguousarray(a, dtype=dtypes[name]) for name, a in batch.items()}


def join(batches: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
    """Several records' batches as one, each padded to the widest (token ids with the pad id, the
    rest with 0), so a batch trigger's texts share one forward pass."""
    import numpy as np

    mapping = ctx.state.get("text_feeds")
    pad = pad_id(ctx.state["tokenizer"])
    width = max(b[next(iter(b))].shape[1] for b in batches)
    joined = {}
    for name in batches[0]:
        fill = pad if mapping is not None and name == mapping.ids else 0
        parts = [np.pad(b[name], ((0, 0), (0, width - b[name].shape[1])), constant_values=fill) for b in batches]
        joined[name] = np.concatenate(parts)
    if mapping is not None and mapping.positions in joined:
        joined[mapping.positions] = np.broadcast_to(np.arange(width, dtype=np.int64), joined[mapping.ids].shape).copy()
    return joined
