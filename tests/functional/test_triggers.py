"""Every Lambda trigger, in-process on the real digits model; S3 against moto server."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, batch_event, heldout, load_event, start_app

pytestmark = pytest.mark.functional
pytest.importorskip("mxnet")
np = pytest.importorskip("numpy")

from lit_runtime.app import App  # noqa: E402
from lit_runtime.errors import InputError  # noqa: E402

BATCH_TRIGGERS = ["sqs-batch", "kinesis-batch", "dynamodb-batch"]


@pytest.fixture()
def counting_app(digits_copy: Path) -> App:
    shutil.copy(FIXTURES / "services" / "counts_inference.py", digits_copy / "service.py")
    return start_app(digits_copy)


def _images(root: Path, n: int) -> list[tuple[bytes, int]]:
    return [(p.read_bytes(), label) for p, label in heldout(root)[:n]]


@pytest.mark.parametrize("name", BATCH_TRIGGERS)
def test_batch_is_one_forward_pass_and_bad_records_fail_alone(counting_app: App, digits_copy: Path, name: str) -> None:
    good = _images(digits_copy, 9)
    images = [img for img, _ in good[:4]] + [b"this is not a png"] + [img for img, _ in good[4:]]
    event = batch_event(name, images)
    counting_app.ctx.state["batch_sizes"] = []
    answer = counting_app.handle(event)
    assert counting_app.ctx.state["batch_sizes"] == [9], "all good records go through one forward pass"
    bad_id = answer["results"][4]["id"]
    assert answer["batchItemFailures"] == [{"itemIdentifier": bad_id}]
    assert "decodable" in answer["results"][4]["error"]["message"]
    labels = [label for _, label in good]
    predicted = [int(r["predictions"][0][0]["label"]) for i, r in enumerate(answer["results"]) if i != 4]
    assert sum(p == t for p, t in zip(predicted, labels)) >= 8
    assert len({r["id"] for r in answer["results"]}) == 10


def test_sns_and_malformed_records(counting_app: App, digits_copy: Path) -> None:
    ((img, label),) = _images(digits_copy, 1)
    answer = counting_app.handle(load_event("sns-notification", img))
    assert int(answer["results"][0]["predictions"][0][0]["label"]) == label
    event = batch_event("sqs-batch", [img, img])
    event["Records"][1]["body"] = "{not json"
    del event["Records"][0]["body"]
    answer = counting_app.handle(event)
    assert len(answer["batchItemFailures"]) == 2
    assert "malformed" in answer["results"][0]["error"]["message"]
    assert "not valid JSON" in answer["results"][1]["error"]["message"]


def test_dynamodb_remove_records_are_reported_not_crashed(counting_app: App, digits_copy: Path) -> None:
    ((img, _),) = _images(digits_copy, 1)
    event = batch_event("dynamodb-batch", [img])
    event["Records"][0]["eventName"] = "REMOVE"
    del event["Records"][0]["dynamodb"]["NewImage"]
    answer = counting_app.handle(event)
    assert "NewImage" in answer["results"][0]["error"]["message"]


def test_shape_mismatch_in_a_batch_isolates_the_bad_record(digits_copy: Path) -> None:
    config = digits_copy / "lit.toml"
    config.write_text(
        config.read_text().replace('input = "image"', 'input = "tensor"\ntask = "raw"').split("[image]")[0]
    )
    app = start_app(digits_copy)
    good = [[[0.0] * 8] * 8]
    event = batch_event("sqs-batch", [b"x", b"x", b"x"])
    for record, doc in zip(event["Records"], ({"input": good}, {"input": [[1.0, 2.0]]}, {"input": good})):
        record["body"] = json.dumps(doc)
    answer = app.handle(event)
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [answer["results"][1]["id"]]
    assert len(answer["results"][0]["predictions"][0]) == 10


def test_direct_tensor_input(digits_copy: Path) -> None:
    config = digits_copy / "lit.toml"
    config.write_text(
        config.read_text().replace('input = "image"', 'input = "tensor"\ntask = "raw"').split("[image]")[0]
    )
    app = start_app(digits_copy)
    answer = app.handle({"inputs": [[[[0.0] * 8] * 8], [[[1.0] * 8] * 8]]})
    assert len(answer["predictions"]) == 2 and len(answer["predictions"][0]) == 10
    config.write_text(config.read_text().replace('task = "raw"', ""))
    classes = start_app(digits_copy).handle({"inputs": [[[[0.0] * 8] * 8]]})["predictions"]
    assert len(classes[0]) == 3 and {"label", "index", "probability"} <= set(classes[0][0]), "labels: classify"
    with pytest.raises(InputError, match="shape"):
        app.handle({"input": [[1.0, 2.0, 3.0]]})
    with pytest.raises(InputError, match="numeric tensor"):
        app.handle({"input": [["a", "b"]]})


def test_s3_object_created_reads_and_writes_through_moto(aws: str, digits_copy: Path) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    bucket, out = f"in-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=out)
    config = digits_copy / "lit.toml"
    config.write_text(config.read_text() + f'\n[output]\ns3 = "s3://{out}/predictions"\n')
    app = start_app(digits_copy)
    ((img, label),) = _images(digits_copy, 1)
    key = "uploads/my digit (1).png"
    s3.put_object(Bucket=bucket, Key=key, Body=img)
    s3.put_object(Bucket=bucket, Key="uploads/bad.png", Body=b"garbage")
    event = load_event("s3-put", bucket=bucket, key="uploads/my+digit+%281%29.png")  # keys arrive URL-encoded
    event["Records"].append(load_event("s3-put", bucket=bucket, key="uploads/bad.png")["Records"][0])
    event["Records"].append(load_event("s3-put", bucket=bucket, key="uploads/missing.png")["Records"][0])
    answer = app.handle(event)
    first, bad, missing = answer["results"]
    assert first["output"] == f"s3://{out}/predictions/{key}.json"
    written = json.loads(s3.get_object(Bucket=out, Key=f"predictions/{key}.json")["Body"].read())
    assert int(written["predictions"][0][0]["label"]) == label and written["source"] == f"s3://{bucket}/{key}"
    assert bad["error"]["status"] == 400 and bad["output"].endswith("bad.png.error.json")
    assert missing["error"]["status"] == 404


def test_records_that_crashed_the_batch_fail_alone(counting_app: App, digits_copy: Path) -> None:
    """Found by test_fuzz.py: JSON too deep to parse, or with too long an integer, failed every record."""
    ((img, label),) = _images(digits_copy, 1)
    event = batch_event("sqs-batch", [img, img, img])
    event["Records"][1]["body"] = "[" * 100_000
    event["Records"][2]["body"] = '{"image": ' + "1" * 5_000 + "}"
    answer = counting_app.handle(event)
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [r["id"] for r in answer["results"][1:]]
    assert int(answer["results"][0]["predictions"][0][0]["label"]) == label


def test_png_chunk_claiming_gigabytes_is_refused_before_opencv(counting_app: App) -> None:
    """Found by test_fuzz.py: for these 14 bytes OpenCV 4.11 allocated and zeroed 3.4 GB (1.5 s)."""
    answer = counting_app.handle(load_event("function-url-binary", b"\x89PNG\r\n\x1a\n\xd4\x22\xa5\xea\xfb\xa2"))
    assert answer["statusCode"] == 400
    assert "chunk claims more bytes" in json.loads(answer["body"])["error"]["message"]


@pytest.mark.parametrize("task", ["embed", "raw", "classify"])
def test_every_task_on_the_mxnet_engine_through_a_batch_trigger(digits_copy: Path, task: str) -> None:
    """The tasks read the engine interface only: the MXNet digits model as an embedder (its [batch, 10]
    output is a pooled vector), raw and classify, through SQS."""
    config = digits_copy / "lit.toml"
    config.write_text(config.read_text().replace('input = "image"', f'input = "image"\ntask = "{task}"'))
    app = start_app(digits_copy)
    assert app.ctx.task.task.name == task and app.ctx.model.outputs[0].name
    path, label = heldout(digits_copy)[0]
    event = batch_event("sqs-batch", [path.read_bytes()] * 2)
    for record in event["Records"]:
        record["body"] = json.dumps({"image": base64.b64encode(path.read_bytes()).decode()})
    results = app.handle(event)["results"]
    direct = app.handle(load_event("direct-image", path.read_bytes()))["predictions"][0]
    for result in results:
        (got,) = result["predictions"]
        if task == "classify":
            assert got[0]["index"] == label
        else:
            assert len(got) == 10 and int(np.argmax(got)) == label
            assert np.allclose(got, direct, atol=1e-5), "a batch answers as a direct invoke does"
