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


def head(text: str, tokenizer: Any, limit: int) -> str:
    """The start of a long text that gives the same first `limit` tokens as the whole: a 6 MB text
    costs the tokenizer a few KB, not seconds and hundreds of MB. The start is cut at whitespace, so
    no word is split, and grows (doubling) while it holds `limit` tokens or fewer. A "word" longer
    than half the start is taken by its start. (The tokenizer truncates to `limit`: see `plan`.)"""
    chars = head_chars(limit)
    while len(text) > chars:
        cut = text[:chars]
        space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if space <= chars // 2:
            return cut
        if tokenizer.encode(cut[:space]).overflowing:
            return cut[:space]
        chars *= 2
    return text


@dataclass(frozen=True)
class Plan:
    """How this function's texts become the model's inputs, worked out once on the first request."""

    feeds: Feeds
    limit: int  # tokens per text: the graph's fixed length, else [text] max_length
    truncation: bool
    pad: int  # the pad token's id
    dtypes: dict[str, str]


def plan(ctx: Any) -> Plan:
    """The function's Plan; the first call also sets the tokenizer to truncate to the limit (as
    Hugging Face does: special tokens such as [SEP] are kept) and to pad, both in its native code."""
    found: Plan | None = ctx.state.get("text_plan")
    if found is not None:
        return found
    from .defaults import input_dtypes, input_names, input_ports

    mapping = feeds(input_names(ctx))
    shape = next((p.shape for p in input_ports(ctx) if p.name == mapping.ids), None) or (None, None)
    fixed = shape[1] if len(shape) > 1 and isinstance(shape[1], int) else None
    opts = options(ctx.settings)
    limit = fixed or opts.max_length
    tokenizer = ctx.state["tokenizer"]
    pad = pad_id(tokenizer)
    tokenizer.enable_truncation(limit)
    width = limit if fixed or opts.padding == "max_length" else None
    tokenizer.enable_padding(pad_id=pad, pad_token=tokenizer.id_to_token(pad) or "[PAD]", length=width)
    found = ctx.state["text_plan"] = Plan(mapping, limit, opts.truncation, pad, input_dtypes(ctx))
    ctx.state["text_feeds"] = mapping
    return found


def encode(texts: list[str], tokenizer: Any, how: Plan) -> dict[str, Any]:
    """{model input name: int batch [texts, tokens]}: ids, attention mask, type ids and positions,
    as the model takes them."""
    import numpy as np

    long = head_chars(how.limit)
    cut = [t if len(t) <= long else head(t, tokenizer, how.limit) for t in texts]
    encodings = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)(cut)
    if not how.truncation:
        for i, enc in enumerate(encodings):
            if enc.overflowing:
                raise InputError(
                    f"text {i} is over {how.limit} tokens ([text] max_length, with truncation = false)", 413
                )
    names = how.feeds
    if len(encodings[0].ids) > 0:
        ids = np.array([e.ids for e in encodings], np.int64)
        mask = np.array([e.attention_mask for e in encodings], np.int64) if names.mask else None
        types = np.array([e.type_ids for e in encodings], np.int64) if names.type_ids else None
    else:  # no text gave a token (a tokenizer without special tokens): one pad token each, masked
        ids = np.full((len(texts), 1), how.pad, np.int64)
        mask = types = np.zeros_like(ids)
    batch = {names.ids: ids}
    if names.mask and mask is not None:
        batch[names.mask] = mask
    if names.type_ids and types is not None:
        batch[names.type_ids] = types
    if names.positions:
        batch[names.positions] = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int64), ids.shape)
    from .defaults import _cast

    return {name: _cast(a, how.dtypes[name]) for name, a in batch.items()}


def preprocess(inputs: list[Any], ctx: Any) -> dict[str, Any]:
    """Strings -> {input name: int batch} for the model's inputs."""
    for i, text in enumerate(inputs):  # a service.py hook may hand over inputs events never saw
        check(text, f"text {i}")
    return encode(inputs, ctx.state["tokenizer"], plan(ctx))


def join(batches: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
    """Several records' batches as one, each padded to the widest (token ids with the pad id, the
    rest with 0), so a batch trigger's texts share one forward pass."""
    import numpy as np

    how = plan(ctx)
    mapping, pad = how.feeds, how.pad
    width = max(b[next(iter(b))].shape[1] for b in batches)
    joined = {}
    for name in batches[0]:
        fill = pad if name == mapping.ids else 0
        parts = [np.pad(b[name], ((0, 0), (0, width - b[name].shape[1])), constant_values=fill) for b in batches]
        joined[name] = np.concatenate(parts)
    if mapping.positions in joined:
        joined[mapping.positions] = np.broadcast_to(np.arange(width, dtype=np.int64), joined[mapping.ids].shape).copy()
    return joined
