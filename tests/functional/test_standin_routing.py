"""What canary rollouts need of the stand-in, with no image run: weighted aliases stored and answered
as Lambda does, Lambda's rules on weights, and GetMetricData as CloudWatch answers it (percentiles,
points put seconds ago, exact dimension sets, periods on whole multiples). Invoking through a
weighted alias, Lambda's metrics and EMF are in tests/e2e/test_standin_routing.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.functional
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-echo@sha256:" + "ab" * 32


def client(service: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name="us-east-1", config=Config(**config))


@pytest.fixture()
def fn(aws: str) -> Iterator[str]:
    """An image function (a made-up digest: nothing runs) with versions 1, 2 and 3."""
    lam, iam = client("lambda"), client("iam")
    name = f"canary-{uuid.uuid4().hex[:8]}"
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    lam.create_function(FunctionName=name, PackageType="Image", Code={"ImageUri": IMAGE}, Role=role)
    for mark in ("1", "2", "3"):
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARK": mark}})
        assert lam.publish_version(FunctionName=name)["Version"] == mark
    yield name
    lam.delete_function(FunctionName=name)
    iam.delete_role(RoleName=name)


def test_routing_config_is_kept_when_omitted_and_left_out_once_cleared(fn: str) -> None:
    lam = client("lambda")
    made = lam.create_alias(
        FunctionName=fn, Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )
    assert made["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert lam.get_alias(FunctionName=fn, Name="live")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    # an update that omits RoutingConfig keeps it (a field UpdateAlias is not given keeps its value)
    lam.update_alias(FunctionName=fn, Name="live", Description="step")
    got = lam.get_alias(FunctionName=fn, Name="live")
    assert got["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}} and got["Description"] == "step"
    lam.update_alias(FunctionName=fn, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    assert lam.get_alias(FunctionName=fn, Name="live")["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.3}
    # promotion: the new version takes all traffic, the weights cleared; Lambda then answers no RoutingConfig
    lam.update_alias(FunctionName=fn, Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    got = lam.get_alias(FunctionName=fn, Name="live")
    assert got["FunctionVersion"] == "2" and "RoutingConfig" not in got
    assert all("RoutingConfig" not in a for a in lam.list_aliases(FunctionName=fn)["Aliases"])
    lam.create_alias(FunctionName=fn, Name="plain", FunctionVersion="1")
    assert "RoutingConfig" not in lam.get_alias(FunctionName=fn, Name="plain")


@pytest.mark.parametrize(
    ("primary", "weights", "needle"),
    [
        ("1", {"2": 1.5}, "between 0.0 and 1.0"),
        ("1", {"2": -0.1}, "between 0.0 and 1.0"),
        ("1", {"2": 0.1, "3": 0.1}, "at most one additional version"),
        ("2", {"2": 0.1}, "must be another version"),
        ("$LATEST", {"2": 0.1}, "cannot point to $LATEST"),
        ("1", {"$LATEST": 0.1}, "cannot point to $LATEST"),
    ],
)
def test_weights_lambda_refuses_are_refused(fn: str, primary: str, weights: dict[str, float], needle: str) -> None:
    lam = client("lambda", parameter_validation=False)  # boto itself refuses a negative weight
    with pytest.raises(ClientError) as caught:
        lam.create_alias(
            FunctionName=fn, Name="live", FunctionVersion=primary, RoutingConfig={"AdditionalVersionWeights": weights}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert needle in caught.value.response["Error"]["Message"]
    assert lam.list_aliases(FunctionName=fn)["Aliases"] == []  # nothing was made
    # the same rules on UpdateAlias, and the alias is left as it was
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="3")
    with pytest.raises(ClientError) as caught:
        lam.update_alias(
            FunctionName=fn, Name="live", FunctionVersion=primary, RoutingConfig={"AdditionalVersionWeights": weights}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    got = lam.get_alias(FunctionName=fn, Name="live")
    assert got["FunctionVersion"] == "3" and "RoutingConfig" not in got


def test_update_alias_is_checked_as_it_would_leave_the_alias(fn: str) -> None:
    lam = client("lambda")
    lam.create_alias(
        FunctionName=fn, Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}}
    )
    # moving FunctionVersion onto the additional version, whose weight the update does not clear
    with pytest.raises(ClientError) as caught:
        lam.update_alias(FunctionName=fn, Name="live", FunctionVersion="2")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    # a version that does not exist
    with pytest.raises(ClientError) as caught:
        lam.update_alias(FunctionName=fn, Name="live", RoutingConfig={"AdditionalVersionWeights": {"9": 0.2}})
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # provisioned concurrency and weights do not go together on an alias
    with pytest.raises(ClientError) as caught:
        lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    got = lam.get_alias(FunctionName=fn, Name="live")
    assert got["FunctionVersion"] == "1" and got["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}


def query(qid: str, namespace: str, name: str, dims: dict[str, str], stat: str, period: int = 60) -> dict[str, Any]:
    metric = {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
    }
    return {"Id": qid, "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}}


def test_get_metric_data_answers_percentiles_over_points_put_seconds_ago(aws: str) -> None:
    cw = client("cloudwatch")
    ns, name = f"Test/{uuid.uuid4().hex[:8]}", "Duration"
    dims = {"FunctionName": "f", "Resource": "f:live", "ExecutedVersion": "2"}
    dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    two_seconds_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    data = [
        {
            "MetricName": name,
            "Value": float(v),
            "Unit": "Milliseconds",
            "Dimensions": dimensions,
            "Timestamp": two_seconds_ago,
        }
        for v in range(1, 101)
    ]
    for i in range(0, 100, 20):
        cw.put_metric_data(Namespace=ns, MetricData=data[i : i + 20])
    # the same metric under another dimension set and in another namespace: neither is mixed in
    cw.put_metric_data(Namespace=ns, MetricData=[{**data[0], "Value": 5000.0, "Dimensions": dimensions[:2]}])
    cw.put_metric_data(Namespace=f"{ns}-other", MetricData=[{**data[0], "Value": 5000.0}])
    # and one point put just now, without a timestamp: a window that ends now holds it
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Invocations", "Value": 1.0, "Dimensions": dimensions}])
    for period in (1, 60):
        queries = [
            query(f"{stat.replace('.', '_').lower()}", ns, name, dims, stat, period)
            for stat in ("p99", "p50", "p99.9", "p100", "Sum", "SampleCount", "Maximum", "Average")
        ]
        queries.append(query("inv", ns, "Invocations", dims, "Sum", period))
        end = dt.datetime.now(dt.UTC)
        found = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)["MetricDataResults"]
        got = {r["Id"]: r["Values"] for r in found}
        assert got["p99"] == [99.0] and got["p50"] == [50.0] and got["p99_9"] == got["p100"] == [100.0]
        assert got["sum"] == [5050.0] and got["samplecount"] == [100.0] and got["maximum"] == [100.0]
        assert got["average"] == [50.5]
        assert got["inv"] == [1.0]
        (stamp,) = next(r["Timestamps"] for r in found if r["Id"] == "p99")
        assert stamp.timestamp() % period == 0  # periods start on whole multiples of Period
    with pytest.raises(ClientError) as caught:
        cw.get_metric_data(MetricDataQueries=[query("x", ns, name, dims, "p1000")], StartTime=start, EndTime=end)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
