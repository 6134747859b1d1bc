"""The stand-in as canary rollouts see it, with images running: a weighted alias routes each request
to a version at random by weight and says which ran (X-Amz-Executed-Version); Lambda's metrics per
ExecutedVersion, and the runtime's EMF records, can be read back with GetMetricData.

The function is the tiny echo image (tests/fixtures/echo): two versions, two warm containers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.e2e


def client(url: str, service: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config),
    )


@pytest.fixture(scope="module")
def fn(moto_server: str, echo_image: str) -> Iterator[dict[str, Any]]:
    """An image function with versions 1 and 2 (they differ by one variable)."""
    lam, iam = client(moto_server, "lambda"), client(moto_server, "iam")
    name = f"echo-{uuid.uuid4().hex[:8]}"
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    lam.create_function(
        FunctionName=name,
        PackageType="Image",
        Code={"ImageUri": echo_image},
        Role=role,
        MemorySize=256,
        Timeout=30,
        Environment={"Variables": {"MARK": "one"}},
    )
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARK": "two"}})
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    once = client(moto_server, "lambda", retries={"total_max_attempts": 1})  # boto retries a 429 by default
    yield {"name": name, "lambda": lam, "once": once, "cloudwatch": client(moto_server, "cloudwatch")}
    lam.delete_function(FunctionName=name)  # the stand-in removes its containers
    iam.delete_role(RoleName=name)


def invoke(lam: Any, name: str, qualifier: str, event: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(X-Amz-Executed-Version, the answer); the answer says which version's container ran."""
    resp = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps(event or {}).encode())
    answer = json.loads(resp["Payload"].read())
    executed = resp["ExecutedVersion"]
    if "FunctionError" not in resp:
        assert answer["version"] == executed
    return executed, answer


def alias(fn: dict[str, Any], weights: dict[str, float], primary: str = "1") -> str:
    name = f"a{uuid.uuid4().hex[:8]}"
    fn["lambda"].create_alias(
        FunctionName=fn["name"],
        Name=name,
        FunctionVersion=primary,
        RoutingConfig={"AdditionalVersionWeights": weights},
    )
    return name


def test_a_weighted_alias_routes_a_binomial_share_and_reports_the_version_that_ran(fn: dict[str, Any]) -> None:
    lam, name = fn["lambda"], fn["name"]
    n, p = 400, 0.3
    ran = Counter(invoke(lam, name, alias(fn, {"2": p}))[0] for _ in range(n))
    assert set(ran) <= {"1", "2"}
    # 4.5 standard deviations of Binomial(400, 0.3) either side: a false alarm in ~1 of 150,000 runs
    bound = 4.5 * math.sqrt(n * p * (1 - p))
    assert abs(ran["2"] - n * p) < bound, ran
    # the ends of the range are exact
    assert {invoke(lam, name, alias(fn, {"2": 0.0}))[0] for _ in range(20)} == {"1"}
    assert {invoke(lam, name, alias(fn, {"2": 1.0}))[0] for _ in range(20)} == {"2"}
    # a version qualifier runs that version; the alias without weights runs its own
    assert {invoke(lam, name, "2")[0] for _ in range(5)} == {"2"}
    plain = f"p{uuid.uuid4().hex[:8]}"
    lam.create_alias(FunctionName=name, Name=plain, FunctionVersion="1")
    assert {invoke(lam, name, plain)[0] for _ in range(5)} == {"1"}


def metric(
    cw: Any,
    query: list[tuple[str, str, dict[str, str], str]],
    start: dt.datetime,
    period: int = 60,
    namespace: str = "AWS/Lambda",
) -> dict[str, list[float]]:
    """GetMetricData over [start, now): one (id, metric, dimensions, stat) per query, as the product
    asks; the values per id."""
    queries = [
        {
            "Id": qid,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                },
                "Period": period,
                "Stat": stat,
            },
        }
        for qid, name, dims, stat in query
    ]
    end = dt.datetime.now(dt.UTC)
    found = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)["MetricDataResults"]
    return {r["Id"]: r["Values"] for r in found}


def test_lambda_metrics_per_executed_version_read_back_with_get_metric_data(fn: dict[str, Any]) -> None:
    lam, cw, name = fn["lambda"], fn["cloudwatch"], fn["name"]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    canary = alias(fn, {"2": 0.5})
    ran: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for i in range(40):
        executed, answer = invoke(lam, name, canary, {"sleep_ms": 25, "fail": i % 5 == 0})
        ran[executed] += 1
        failed[executed] += "errorType" in answer
    assert set(ran) == {"1", "2"}, ran  # 40 draws at 0.5: both versions ran (all but certain)
    resource = f"{name}:{canary}"
    queries = []
    for v in ("1", "2"):
        dims = {"FunctionName": name, "Resource": resource, "ExecutedVersion": v}
        queries += [
            (f"inv{v}", "Invocations", dims, "Sum"),
            (f"err{v}", "Errors", dims, "Sum"),
            (f"p99v{v}", "Duration", dims, "p99"),
            (f"p50v{v}", "Duration", dims, "p50"),
        ]
    queries.append(("all", "Invocations", {"FunctionName": name, "Resource": resource}, "Sum"))
    # read seconds after the invokes, in a window that ends now, at a period of 60 s and of 1 s
    got = metric(cw, queries, start)
    for v in ("1", "2"):
        assert sum(got[f"inv{v}"]) == ran[v]
        assert sum(got[f"err{v}"]) == failed[v]
        p99s, p50s = got[f"p99v{v}"], got[f"p50v{v}"]  # one per minute the invokes touched
        assert p99s and len(p99s) == len(p50s)
        assert all(25 <= p50 <= p99 < 5000 for p50, p99 in zip(p50s, p99s, strict=True))
    assert sum(got["all"]) == 40
    per_second = metric(cw, queries, start, period=1)
    assert sum(per_second["inv1"]) + sum(per_second["inv2"]) == 40


def test_a_throttled_invoke_counts_in_throttles_not_invocations(fn: dict[str, Any]) -> None:
    lam, cw, name = fn["lambda"], fn["cloudwatch"], fn["name"]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    version = "2"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    try:
        with pytest.raises(ClientError) as caught:
            invoke(fn["once"], name, version)  # one request: each retry would be one more throttle
    finally:
        lam.delete_function_concurrency(FunctionName=name)
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    dims = {"FunctionName": name, "Resource": f"{name}:{version}"}
    before = metric(cw, [("t", "Throttles", dims, "Sum"), ("i", "Invocations", dims, "Sum")], start)
    invoke(lam, name, version)
    after = metric(cw, [("t", "Throttles", dims, "Sum"), ("i", "Invocations", dims, "Sum")], start)
    assert sum(before["t"]) == sum(after["t"]) == 1
    assert sum(after["i"]) == sum(before["i"]) + 1


def test_the_runtimes_emf_records_become_metrics_in_namespace_lit(fn: dict[str, Any]) -> None:
    lam, cw, name = fn["lambda"], fn["cloudwatch"], fn["name"]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    version = "1"
    for _ in range(3):
        invoke(lam, name, version, {"sleep_ms": 10})
    dims = {"function": name}
    query = [("batch", "batch_size", dims, "SampleCount"), ("handler", "handler_ms", dims, "Maximum")]
    deadline = time.monotonic() + 30
    while True:  # the log lines reach CloudWatch Logs (and their metrics CloudWatch) as the container writes them
        got = metric(cw, query, start, namespace="LIT")
        if sum(got["batch"]) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sum(got["batch"]) >= 3
    assert max(got["handler"]) >= 10
    listed = cw.list_metrics(Namespace="LIT", Dimensions=[{"Name": "function", "Value": name}])["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"batch_size", "errors", "rejected", "handler_ms", "max_rss_mb"} <= names
