"""Fuzzing the runtime's event handling: every trigger's recorded event, mutated, and wholly generated.

Each trigger gets EXAMPLES events through `lit_runtime.handler.handler`, called as Lambda's runtime
client calls it, on the real digits model. Nothing a caller sends may crash the runtime: an HTTP
caller gets a 4xx whose body names the problem, a direct caller the structured error Lambda makes of
an InputError, a batch exactly its bad records in batchItemFailures; and no event may cost the
process hundreds of MB. S3 objects are read from moto
server. Most mutated events are refused before the model, as in life; the valid ones among them go
through the model and must be answered.

Hypothesis's cost is per draw, and 10 x 10,000 examples add up (the file runs in ~2.5 minutes on two
cores): strategies are built once, at module level, and discrete choices are drawn together.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib
import itertools
import json
import resource
import struct
import sys
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import batch_event, heldout, load_event, start_app

pytestmark = pytest.mark.functional
pytest.importorskip("mxnet")
pytest.importorskip("hypothesis")
cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")
bootstrap = pytest.importorskip("awslambdaric.bootstrap")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lit_runtime import events  # noqa: E402
from lit_runtime.app import App  # noqa: E402
from lit_runtime.errors import InputError  # noqa: E402
from lit_runtime.s3 import S3  # noqa: E402

from tests.conftest import bomb_png  # noqa: E402

EXAMPLES = 10_000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
HTTP_EVENTS = {
    "apigw-rest": "apigw-rest-binary",
    "apigw-http": "apigw-http-json",
    "function-url": "function-url-binary",
    "alb": "alb-binary",
}
RECORD_EVENTS = {
    "sqs": "sqs-batch",
    "kinesis": "kinesis-batch",
    "dynamodb": "dynamodb-batch",
    "sns": "sns-notification",
}
ID_PATHS = {
    "sqs": ("messageId",),
    "kinesis": ("kinesis", "sequenceNumber"),
    "dynamodb": ("dynamodb", "SequenceNumber"),
    "sns": ("Sns", "MessageId"),
}
BUCKET = f"lit-fuzz-{uuid.uuid4().hex[:8]}"


# --- payloads: decodable images, and bytes that only look like them ---------------------------------


def _encoded(ext: str, img: Any) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


_rng = np.random.default_rng(7)
_gray = _rng.integers(0, 256, (8, 8), dtype=np.uint8)
_color = _rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
IMAGES = [  # every format, size and depth the default preprocess takes
    *(_encoded(ext, _gray) for ext in (".png", ".jpg", ".bmp", ".webp", ".tiff")),
    _encoded(".png", _color),
    _encoded(".jpg", _color),
    _encoded(".png", np.zeros((1, 1), np.uint8)),
    _encoded(".png", _rng.integers(0, 65536, (9, 13), dtype=np.uint16)),
    _encoded(".png", _rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)),
]
MAGICS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8 ", b"II*\0", b"MM\0*"]


def _claims(fmt: str, w: int, h: int) -> bytes:
    """A small file whose header claims a w x h image: a decompression bomb, or just a lie."""
    if fmt == "png":
        return bomb_png(w, h)
    if fmt == "gif":
        return b"GIF89a" + struct.pack("<HH", w % 65536, h % 65536) + bytes(16)
    if fmt == "bmp":
        return b"BM" + struct.pack("<IIIIiiHHII", 70, 0, 54, 40, w % 2**31, -(h % 2**31), 1, 8, 0, 16) + bytes(16)
    if fmt == "webp":
        dims = ((w - 1) % 2**24).to_bytes(3, "little") + ((h - 1) % 2**24).to_bytes(3, "little")
        return b"RIFF" + struct.pack("<I", 22) + b"WEBPVP8X" + struct.pack("<II", 10, 0) + dims
    if fmt == "jpeg":
        return b"\xff\xd8\xff\xc0" + struct.pack(">HBHHBBBB", 11, 8, h % 65536, w % 65536, 1, 1, 0x11, 0) + b"\xff\xd9"
    tags = [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8), (278, 4, h), (279, 4, 16)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", tag, kind, 1, v) for tag, kind, v in tags)
    return b"II*\0" + struct.pack("<I", 8) + ifd + bytes(20)


# OpenCV reads TIFF dimensions itself, against OPENCV_IO_MAX_IMAGE_PIXELS as it was when cv2 was
# imported: in this test process 2**30, not the runtime's 40M. Stay clear of the gap, or it allocates.
_tiff_sides = st.tuples(st.integers(1, 4096), st.integers(1, 4096)) | st.tuples(
    st.integers(2**16, 2**32 - 1), st.integers(2**15, 2**32 - 1)
)


def _flip(data: bytes, at: int, value: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([value]) + data[at + 1 :]


def pick(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    """One of `values`, drawn by index: hypothesis need never repr (and warn about) big ones."""
    return st.integers(0, len(values) - 1).map(values.__getitem__)


def plans(*choices: Sequence[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    """One combination of `choices`, in one draw: hypothesis's cost is per draw, and 10 x 10,000
    examples add up. Repeating a choice weighs it."""
    return st.sampled_from(list(itertools.product(*choices)))


good_images = pick(IMAGES)
magics = pick(MAGICS)
claimed_formats = pick(["png", "gif", "bmp", "webp", "jpeg"])


@st.composite
def _payloads(draw: Any) -> tuple[bytes, bool]:
    """Bytes sent as an image, and whether they are known to decode: a real image of some format,
    or noise, a truncated or corrupted image, an image's magic number before junk, or a small file
    whose header claims some size (a decompression bomb, or just a lie)."""
    kind = draw(st.integers(0, 13))
    if kind < 8:
        return draw(good_images), True
    if kind == 8:
        return draw(st.binary(max_size=256)), False
    if kind == 9:
        return draw(good_images)[: draw(st.integers(0, 400))], False
    if kind == 10:
        where = draw(st.integers(0, 2**24 - 1))  # a position, and the byte written there
        return _flip(draw(good_images), where >> 8, where & 0xFF), False
    if kind == 11:
        return draw(magics) + draw(st.binary(max_size=64)), False
    if kind == 12:
        fmt = draw(claimed_formats)
        return _claims(fmt, draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1))), False
    return _claims("tiff", *draw(_tiff_sides)), False


payloads = _payloads()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


BASE64_SLIPS = [  # what clients get wrong about base64
    lambda s: s.rstrip("="),
    lambda s: "data:image/png;base64," + s,
    lambda s: s[: len(s) // 2] + "\n" + s[len(s) // 2 :],
    lambda s: s.replace("+", "-").replace("/", "_"),
    lambda s: s[:-1],
    lambda s: " " + s,
    lambda s: s + "=",
    lambda s: s.encode().hex(),
]


@st.composite
def _bad_base64(draw: Any) -> str:
    slip = draw(st.integers(0, len(BASE64_SLIPS)))
    if slip == len(BASE64_SLIPS):
        return draw(st.text(max_size=24))
    return BASE64_SLIPS[slip](b64(draw(payloads)[0]))


bad_base64 = _bad_base64()


# --- JSON values: wrong types, generated documents, deep nesting -------------------------------------


def _deep(depth: int, leaf: Any = 0) -> Any:
    """A list nested `depth` deep. Lambda's runtime client parses event JSON nested up to ~990 deep."""
    for _ in range(depth):
        leaf = [leaf]
    return leaf


ODD = [None, True, 0, -1, 2**64, 1.5, 1e308, "", "x", "\ud800", "\x00", "é", [], [None], {}, {"": {}}, "null"]


def _odd(i: int) -> Any:
    """ODD[i], copied (mutation changes events in place); past ODD's end, a list nested deep."""
    return copy.deepcopy(ODD[i]) if i < len(ODD) else _deep(50 if i == len(ODD) else 500)


def objects(keys: st.SearchStrategy[str], values: st.SearchStrategy[Any], size: int) -> st.SearchStrategy[dict]:
    """JSON objects; cheaper to draw than st.dictionaries, which insists on distinct keys."""
    return st.lists(st.tuples(keys, values), max_size=size).map(dict)


scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
json_values = scalars | st.lists(scalars, max_size=3) | objects(st.text(max_size=6), scalars, 3)
replacements = st.integers(0, len(ODD) + 1).map(_odd) | json_values
# Keys and values the runtime looks for, so that generated events reach past the first check.
KEYS = ["Records", "requestContext", "elb", "http", "body", "headers", "image", "images", "eventSource", "version"]
WORDS = ["aws:sqs", "aws:s3", "aws:sns", "aws:kinesis", "aws:dynamodb", "2.0", "POST", "x.lambda-url.on.aws"]
generated = st.recursive(
    scalars | st.sampled_from(WORDS),
    lambda c: st.lists(c, max_size=3) | objects(st.sampled_from(KEYS) | st.text(max_size=6), c, 4),
    max_leaves=6,
)

ODD_BODIES = [  # HTTP bodies and message texts
    "[" * 100_000,  # nests deeper than any JSON parser recurses
    '{"image": ' * 5_000 + "1" + "}" * 5_000,
    '{"image": ' + "1" * 5_000 + "}",  # more digits than Python converts to int
    '{"image": "\\ud800"}',
    '{"image": NaN}',
    "{not json",
    "null",
    "\ud800",
]
bodies = pick(ODD_BODIES) | st.text(max_size=40) | bad_base64 | replacements
BIG = 6 * 1024 * 1024 + 1
http_bodies = bodies | pick(["x" * BIG, b64(bytes(BIG))])  # over Lambda's synchronous limit


# --- mutation: drop or replace any place in an event --------------------------------------------------


def _paths(doc: Any) -> list[tuple[Any, ...]]:
    """Every place in a JSON document as a key path; iterative, as fuzzed values nest deep."""
    paths, todo = [], [((), doc)]
    while todo:
        path, node = todo.pop()
        paths.append(path)
        if len(path) < 8 and isinstance(node, (dict, list)):
            children = node.items() if isinstance(node, dict) else enumerate(node)
            todo.extend((path + (k,), v) for k, v in children)
    return paths


def mutate(draw: Any, doc: Any, times: int) -> Any:
    """`doc` (changed in place) with `times` places dropped, or replaced by other JSON values."""
    for _ in range(times):
        paths = _paths(doc)
        choice = draw(st.integers(0, 2 * len(paths) - 1))  # where, and whether to drop or replace
        path = paths[choice // 2]
        if not path:
            doc = draw(replacements)
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if choice % 2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(replacements)
    return doc


# --- cases: an event, and what is known of its answer -------------------------------------------------


@functools.cache
def _recorded(name: str) -> str:
    return json.dumps(load_event(name, IMAGES[0], bucket=BUCKET, key="digit.png"))


def _template(name: str) -> Any:
    """A fresh copy of a recorded event, its image one of IMAGES."""
    return json.loads(_recorded(name))


@dataclass
class Case:
    event: Any
    images: int | None = None  # a valid request of this many decodable images: must be answered
    good: tuple[int, ...] = ()  # records that are valid: must be answered, never reported failed
    expect: dict[int, Any] | None = None  # S3: record -> "ok" or the error status it must get


image_lists = st.lists(payloads, min_size=1, max_size=3)
image_keys = st.sampled_from(["image", "images"])
not_images = bad_base64 | replacements
not_image_lists = st.lists(not_images, min_size=1, max_size=3)


@st.composite
def _documents(draw: Any) -> tuple[Any, int | None]:
    """A JSON document as a direct invoke, an HTTP body or a message carries it; and its image count
    when it is known to be valid."""
    shape = draw(st.integers(0, 5))
    if shape == 0:
        data, ok = draw(payloads)
        return {"image": b64(data)}, 1 if ok else None
    if shape == 1:
        many = draw(image_lists)
        return {"images": [b64(d) for d, _ in many]}, len(many) if all(ok for _, ok in many) else None
    if shape == 2:
        data, ok = draw(payloads)
        return {"image": b64(data), "x" + draw(st.text(max_size=6)): draw(json_values)}, 1 if ok else None
    if shape == 3:
        return {draw(image_keys): draw(not_images)}, None
    if shape == 4:
        return {"images": draw(not_image_lists)}, None
    return draw(json_values), None


documents = _documents()


@st.composite
def direct_cases(draw: Any) -> Case:
    """A document, the recorded event mutated, or any JSON value at all."""
    shape = draw(st.integers(0, 2))
    if shape == 0:
        doc, images = draw(documents)
        return Case(doc, images)
    if shape == 1:
        return Case(mutate(draw, {"image": b64(draw(good_images))}, draw(st.integers(1, 3))))
    return Case(draw(generated))


def _set_header(event: dict[str, Any], name: str, value: Any, multi: bool) -> None:
    for key in ("headers", "multiValueHeaders"):
        if isinstance(event.get(key), dict):
            event[key] = {k: v for k, v in event[key].items() if k.lower() != "content-type"}
    if multi:
        event.setdefault("multiValueHeaders", {})[name] = [value]
    else:
        event["headers"][name] = value


HEADER_NAMES = ["content-type", "Content-Type", "CONTENT-TYPE"]
IMAGE_TYPES = ["image/png", "image/jpeg", "application/octet-stream", "IMAGE/PNG; charset=binary"]
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "application/vnd.api+json", ""]
ODD_TYPES = ["text/plain", "multipart/form-data; boundary=x", ";", "image", "json", "application/xml"]
B64_FLAGS = [True, False, "true", "false", None, 1, 0]
HTTP_PLANS = plans(["image", "json", "odd"], HEADER_NAMES, [False, True], [0, 0, 1, 2])
image_types = pick(IMAGE_TYPES)
json_plans = plans([False, True], JSON_TYPES)
odd_plans = plans(B64_FLAGS, IMAGE_TYPES + JSON_TYPES + ODD_TYPES + [None])  # None: a generated one
odd_types = st.text(max_size=20) | replacements


@st.composite
def http_cases(draw: Any, trigger: str) -> Case:
    """An image body, a JSON body, or an odd one; its content type in headers or multiValueHeaders;
    and, half the time, 1 or 2 places of the event dropped or replaced."""
    event = _template(HTTP_EVENTS[trigger])
    shape, name, multi, times = draw(HTTP_PLANS)
    images = None
    if shape == "image":
        data, ok = draw(payloads)
        event["body"], event["isBase64Encoded"] = b64(data), True
        ctype = draw(image_types)
        images = 1 if ok else None
    elif shape == "json":
        doc, images = draw(documents)
        encode, ctype = draw(json_plans)
        text = json.dumps(doc)
        event["body"], event["isBase64Encoded"] = (b64(text.encode()) if encode else text), encode
    else:
        event["body"] = draw(http_bodies)
        flag, ctype = draw(odd_plans)
        event["isBase64Encoded"] = flag
        ctype = draw(odd_types) if ctype is None else ctype
    _set_header(event, name, ctype, multi)
    if times:
        return Case(mutate(draw, event, times))
    return Case(event, images)


def _carry(trigger: str, record: dict[str, Any], content: Any) -> None:
    """Put a document (or an odd body) where the trigger's record carries it."""
    text = json.dumps(content) if isinstance(content, dict) else content
    if trigger == "sqs":
        record["body"] = text
    elif trigger == "sns":
        record["Sns"]["Message"] = text
    elif trigger == "kinesis":
        record["kinesis"]["data"] = b64(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else text
    else:
        record["dynamodb"]["NewImage"] = content


def _deep_attribute(depth: int) -> dict[str, Any]:
    """A DynamoDB list nested `depth` deep: twice as deep in the event's JSON."""
    value: dict[str, Any] = {"S": "x"}
    for _ in range(depth):
        value = {"L": [value]}
    return value


ODD_ATTRIBUTES = [{}, {"NULL": True}, {"BOOL": 0}, {"X": 1}, {"S": "a", "N": "2"}, {"NS": ["1", "x"]}, {"BS": ["!"]}]
ODD_ATTRIBUTES += [{"L": "abc"}, {"M": []}, {"M": {"a": 5}}, {"N": 5}, {"SS": 3}, [], None]
NUMBERS = ["1", "-0.5", "1e3", "abc", "", "1" * 5_000, "NaN", "0x10", "Infinity"]
strings, numbers, odd_attributes = st.text(max_size=10) | bad_base64, pick(NUMBERS), pick(ODD_ATTRIBUTES)


@st.composite
def _attributes(draw: Any, nested: bool) -> Any:
    """A DynamoDB attribute value ({"S": ...}, {"N": ...}, {"B": ...}, {"L": [...]}, ...), well
    formed or not."""
    kind = draw(st.integers(0, 8 if nested else 6))
    if kind == 0:
        return {"S": draw(strings)}
    if kind == 1:
        return {"N": draw(numbers)}
    if kind == 2:
        return {"B": b64(draw(payloads)[0])}
    if kind == 3:
        return {"B": draw(bad_base64)}
    if kind == 4:
        return copy.deepcopy(draw(odd_attributes))
    if kind == 5:
        return _deep_attribute(draw(st.sampled_from([50, 480])))
    if kind == 6:
        return draw(replacements)
    if kind == 7:
        return {"L": draw(flat_lists)}
    return {"M": draw(flat_maps)}


flat_attributes, attributes = _attributes(nested=False), _attributes(nested=True)
flat_lists, flat_maps = st.lists(flat_attributes, max_size=3), objects(st.text(max_size=4), flat_attributes, 3)
attribute_names = st.lists(st.sampled_from(["image", "images", "Id", "x"]), min_size=1, max_size=2)


@st.composite
def _new_images(draw: Any) -> Any:
    """What a bad record's NewImage holds: its image under the usual keys, or under others."""
    names = draw(attribute_names)
    return {name: draw(attributes) for name in names}


new_images = _new_images()


# per record: what it carries, and how many places of it to drop or replace
RECORD_PLANS = plans(["good", "document", "document", "body"], [0, 0, 0, 1, 2])
# per event: how many records, and how many places of the whole event to drop or replace. SNS and
# S3 send one record an event; the runtime takes more.
BATCH_PLANS = plans([1, 2, 3], [0] * 9 + [1, 2])
SINGLE_PLANS = plans([1, 1, 1, 2], [0] * 9 + [1, 2])


@st.composite
def record_cases(draw: Any, trigger: str) -> Case:
    """A batch of good records (ids good-N) and bad ones (ids bad-N, unless the id is what's mutated)."""
    records: list[Any] = []
    good = []
    size, times = draw(SINGLE_PLANS if trigger == "sns" else BATCH_PLANS)
    for i in range(size):
        record = _template(RECORD_EVENTS[trigger])["Records"][0]
        content, record_times = draw(RECORD_PLANS)
        holder = record
        for key in ID_PATHS[trigger][:-1]:
            holder = holder[key]
        holder[ID_PATHS[trigger][-1]] = f"{'good' if content == 'good' else 'bad'}-{i}"
        if content == "good":
            image = b64(draw(good_images))
            if trigger != "dynamodb":
                _carry(trigger, record, {"image": image})
            elif i % 2:
                _carry(trigger, record, {"Id": {"N": str(i)}, "image": {"B": image}})
            else:
                _carry(trigger, record, {"images": {"L": [{"S": image}]}})
            good.append(i)
            records.append(record)
            continue
        if trigger == "dynamodb" and content == "document":
            _carry(trigger, record, draw(new_images))
        elif trigger == "dynamodb":
            record["eventName"] = "REMOVE"
            del record["dynamodb"]["NewImage"]
        else:
            _carry(trigger, record, draw(documents)[0] if content == "document" else draw(bodies))
        records.append(mutate(draw, record, record_times))
    event = {"Records": records}
    if times:
        return Case(mutate(draw, event, times))
    return Case(event, good=tuple(good))


# S3: objects on moto server, and what each must answer
OBJECTS = {
    "digit.png": (IMAGES[0], "ok"),
    "uploads/my digit (1).jpg": (IMAGES[1], "ok"),
    "ünïcödé/€ 100% real+.webp": (IMAGES[3], "ok"),
    "a/b/c/doc.json": (json.dumps({"image": b64(IMAGES[5])}).encode(), "ok"),
    "garbage.png": (b"this is not a png", 400),
    "empty.png": (b"", 400),
    "bad.json": (b"{not json", 400),
    "bomb.png": (bomb_png(60_000, 60_000), 413),
}
BUCKET_NAMES = ["Bad Bucket", "a/b", "", "x", "a\nb", "../x", "a?b", "ü", "x" * 300, "lit-fuzz-no-such-bucket"]
ODD_KEYS = ["", "%", "%zz", "%C3", "+", "%2B", "/", "../digit.png", "a\x00b", "\ud800", "k" * 1_100, "digit.png?x=1"]
EVENT_NAMES = ["ObjectRemoved:Delete", "ObjectCreated", "", "s3:TestEvent", "ObjectRestore:Completed"]
S3_SHAPES = ["object", "missing", "odd key", "odd bucket", "event name", "mutated"]
S3_RECORD_PLANS = plans(S3_SHAPES, sorted(OBJECTS))
odd_keys = pick([*ODD_KEYS, *(urllib.parse.quote(urllib.parse.quote(key)) for key in OBJECTS), *OBJECTS])
odd_keys |= st.text(max_size=16)
odd_buckets = pick(BUCKET_NAMES) | st.text(max_size=8) | replacements
event_names = pick(EVENT_NAMES)


@st.composite
def s3_cases(draw: Any) -> Case:
    """Records naming an object that is there, one that is not, odd keys and buckets, other events."""
    records: list[Any] = []
    expect: dict[int, Any] = {}
    size, times = draw(SINGLE_PLANS)
    for i in range(size):
        record = _template("s3-put")["Records"][0]
        shape, key = draw(S3_RECORD_PLANS)
        record["s3"]["object"]["key"] = urllib.parse.quote_plus(key, safe="/")  # as S3 sends keys
        if shape == "object":
            expect[i] = OBJECTS[key][1]
        elif shape == "missing":
            record["s3"]["object"]["key"] = urllib.parse.quote_plus(f"missing/{key}", safe="/")
            expect[i] = 404
        elif shape == "odd key":  # keys S3 would never send, or would encode otherwise
            record["s3"]["object"]["key"] = draw(odd_keys)
        elif shape == "odd bucket":
            record["s3"]["bucket"]["name"] = draw(odd_buckets)
        elif shape == "event name":
            record["eventName"] = draw(event_names)
        else:
            record = mutate(draw, record, draw(st.integers(1, 2)))
        records.append(record)
    event = {"Records": records}
    if times:
        return Case(mutate(draw, event, times))
    return Case(event, expect=expect)


# --- the oracle ----------------------------------------------------------------------------------------


def invoke(handler: Any, event: Any) -> Any:
    """The handler's answer, or the error Lambda's runtime client returns for what it raised. Only an
    InputError (the caller's fault) may escape the handler; anything else fails the test as a crash."""
    try:
        return handler(event, None)
    except InputError:
        return bootstrap.build_fault_result(sys.exc_info(), None)


def _record_ids(trigger: str, records: list[Any]) -> set[str]:
    """Each record's id (messageId, sequence number, ...), or its index when it has none."""
    ids = set()
    for i, record in enumerate(records):
        try:
            value = record
            for key in ID_PATHS[trigger]:
                value = value[key]
            ids.add(str(value))
        except (KeyError, TypeError, IndexError):
            ids.add(str(i))
    return ids


def _nameless(trigger: str, records: list[Any]) -> int | None:
    """The first record of a batch trigger (SQS, Kinesis, DynamoDB) without its id as a non-empty string."""
    if trigger not in events.BATCH_IDS:
        return None
    for i, record in enumerate(records):
        value = record
        try:
            for key in ID_PATHS[trigger]:
                value = value[key]
        except (KeyError, TypeError, IndexError):
            return i
        if not isinstance(value, str) or not value:
            return i
    return None


def check(case: Case, answer: Any) -> None:
    """The answer has the shape the trigger (as the runtime detects it) expects, 5xx-free, and agrees
    with what is known of the case."""
    trigger = events.detect(case.event)
    if events.is_http(trigger):
        assert isinstance(answer, dict) and type(answer["statusCode"]) is int, answer
        status, body = answer["statusCode"], json.loads(answer["body"])
        assert status < 500, body
        if status >= 400:
            assert body["error"]["status"] == status and body["error"]["message"], body
        else:
            assert status == 200 and isinstance(body["predictions"], list)
        if case.images is not None:
            assert status == 200, body
            assert len(body["predictions"]) == case.images
        return
    if trigger == "direct":
        if "errorType" in answer:
            assert answer["errorType"] == "InputError" and answer["errorMessage"], answer
            assert case.images is None, answer
        else:
            assert isinstance(answer["predictions"], list)
            if case.images is not None:
                assert len(answer["predictions"]) == case.images
        return
    records = case.event["Records"]
    nameless = _nameless(trigger, records)
    if nameless is not None:  # a partial batch answer could not name it: the whole batch fails
        assert answer.get("errorType") == "InputError", answer
        assert f"record {nameless} of this {trigger} batch has no" in answer["errorMessage"], answer
        return
    results = answer["results"]
    assert len(results) == len(records)
    for result in results:
        if "error" in result:
            assert 400 <= result["error"]["status"] < 500 and result["error"]["message"], result
        else:
            assert isinstance(result["predictions"], list)
    if trigger in events.BATCH:
        failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
        assert failed == [r["id"] for r in results if "error" in r]
        assert set(failed) <= _record_ids(trigger, records)
    else:
        assert "batchItemFailures" not in answer
    for i in case.good:
        assert results[i]["id"] == f"good-{i}" and len(results[i]["predictions"]) == 1, results[i]
    for i, outcome in (case.expect or {}).items():
        if outcome == "ok":
            assert len(results[i]["predictions"]) == 1, results[i]
        else:
            assert results[i]["error"]["status"] == outcome, results[i]


# --- the tests -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(digits_model: Path) -> App:
    """One App for the module, on the digits project. It writes no predictions to S3: moto server's
    round trips are most of the S3 test's time, and tests/functional/test_triggers.py covers that."""
    return start_app(digits_model)


@pytest.fixture(scope="module")
def handler(app: App) -> Any:
    """`lit_runtime.handler.handler`, the function's entry point, on the module's App."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(App, "start", classmethod(lambda cls, root=None: app))  # what importing it starts
        module = importlib.import_module("lit_runtime.handler")
        mp.setattr(module, "app", app)
        yield module.handler


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fuzz(handler: Any, cases: Any) -> int:
    """Runs the handler on EXAMPLES cases; returns how many it ran."""
    calls = 0
    peak = _peak_rss_mb()

    @FUZZ
    @given(cases)
    def run(case: Case) -> None:
        nonlocal calls
        calls += 1
        check(case, invoke(handler, case.event))

    run()
    # A decoder that allocates what a header claims takes the sandbox down (the digits function has
    # 1 GB) even when the event is then refused. The request log lines' max_rss_mb show which event.
    assert _peak_rss_mb() - peak < 500, f"peak RSS grew from {peak:.0f} to {_peak_rss_mb():.0f} MB"
    return calls


def _still_right(handler: Any, root: Path, name: str) -> None:
    """After the fuzzing, the runtime still reads a real digit right."""
    path, label = heldout(root)[0]
    event = load_event(name, path.read_bytes())
    answer = invoke(handler, event)
    if "statusCode" in answer:
        assert answer["statusCode"] == 200
        answer = json.loads(answer["body"])
    predictions = answer["results"][0]["predictions"] if "results" in answer else answer["predictions"]
    assert int(predictions[0][0]["label"]) == label


def test_direct_invoke(handler: Any, digits_model: Path) -> None:
    assert _fuzz(handler, direct_cases()) >= EXAMPLES
    _still_right(handler, digits_model, "direct-image")


@pytest.mark.parametrize("trigger", list(HTTP_EVENTS))
def test_http_trigger(handler: Any, digits_model: Path, trigger: str) -> None:
    assert _fuzz(handler, http_cases(trigger)) >= EXAMPLES
    _still_right(handler, digits_model, HTTP_EVENTS[trigger])


@pytest.mark.parametrize("trigger", list(RECORD_EVENTS))
def test_record_trigger(handler: Any, digits_model: Path, trigger: str) -> None:
    assert _fuzz(handler, record_cases(trigger)) >= EXAMPLES
    _still_right(handler, digits_model, RECORD_EVENTS[trigger])
    good = [p.read_bytes() for p, _ in heldout(digits_model)[:3]]
    answer = invoke(handler, batch_event(RECORD_EVENTS[trigger], good))
    assert answer.get("batchItemFailures", []) == []


def test_s3_trigger(handler: Any, app: App, aws: str, digits_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for key, (data, _) in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    monkeypatch.setattr(app, "s3", S3(endpoint=aws))
    assert _fuzz(handler, s3_cases()) >= EXAMPLES
    path, label = heldout(digits_model)[0]
    s3.put_object(Bucket=BUCKET, Key="heldout.png", Body=path.read_bytes())
    answer = invoke(handler, load_event("s3-put", bucket=BUCKET, key="heldout.png"))
    assert int(answer["results"][0]["predictions"][0][0]["label"]) == label
