"""Deploy without AWS: the planner, the executor's order, waits that fail, error translation."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import Mock

import pytest

from lit import aws, deploy, project
from lit.errors import AwsError, LitError

pytestmark = pytest.mark.unit
URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-digits@sha256:" + "a" * 64


def clients(lam: Mock | None = None, iam: Mock | None = None) -> deploy.Clients:
    return deploy.Clients(
        lam or Mock(spec=aws.LambdaClient), iam or Mock(spec=aws.IAMClient), "123456789012", "us-east-1"
    )


def fresh(digits_stub: Path) -> tuple[deploy.Clients, deploy.Desired]:
    c = clients()
    c.iam.role_arn.return_value = None
    c.lam.get_function.return_value = None
    want = deploy.desired(project.load(digits_stub), c, URI, None, "live", None)
    return c, want


def test_new_function_plan_order(digits_stub: Path) -> None:
    c, want = fresh(digits_stub)
    p = deploy.plan(c, want)
    assert [s.operation for s in p.steps] == [
        "create_role",
        "put_role_policy",
        "create_function",
        "wait_ready",
        "publish_version",
        "set_alias",
    ]
    create = p.steps[2].params
    assert (
        create["Code"] == {"ImageUri": URI}
        and create["PackageType"] == "Image"
        and create["Architectures"] == ["x86_64"]
    )


def test_tags_are_refused(digits_stub: Path) -> None:
    with pytest.raises(LitError, match="is not pinned by digest"):
        deploy.desired(project.load(digits_stub), clients(), URI.split("@")[0] + ":latest", None, "live", None)


def test_failed_update_never_moves_the_alias(digits_stub: Path) -> None:
    c, want = fresh(digits_stub)
    p = deploy.plan(c, want)
    c.lam.wait_ready.side_effect = AwsError("function digits is Failed, last update Failed: image not found", "fix")
    with pytest.raises(LitError, match="Failed") as err:
        deploy.deploy(c, p, lambda _: None)
    assert err.value.exit_code == 4 and "alias live not created yet" in err.value.fix
    c.lam.create_function.assert_called_once()
    c.lam.publish_version.assert_not_called()
    c.lam.set_alias.assert_not_called()


def boto_lambda(states: list[dict]) -> Mock:
    fake = Mock()
    fake.get_function_configuration.side_effect = states
    return fake


def waiting_client(states: list[dict], attempts: int = 5) -> aws.LambdaClient:
    sess = Mock()
    sess.client.return_value = boto_lambda(states)
    return aws.LambdaClient(sess, sleep=lambda _: None, attempts=attempts)


def test_wait_ready_reports_pending_then_active() -> None:
    seen: list[str] = []
    client = waiting_client(
        [
            {"State": "Pending"},
            {"State": "Active", "LastUpdateStatus": "InProgress"},
            {"State": "Active", "LastUpdateStatus": "Successful", "CodeSha256": "x"},
        ]
    )
    assert client.wait_ready("fn", seen.append)["CodeSha256"] == "x"
    assert seen == [
        "waiting for fn: state Pending, last update Successful",
        "waiting for fn: state Active, last update InProgress",
    ]


def test_wait_ready_stuck_pending_gives_up_with_a_message() -> None:
    client = waiting_client([{"State": "Pending"}] * 5)
    with pytest.raises(AwsError, match="did not become Active") as err:
        client.wait_ready("fn", lambda _: None)
    assert "alias was not moved" in err.value.fix


def test_wait_ready_failed_names_the_reason() -> None:
    client = waiting_client(
        [{"State": "Failed", "StateReason": "The image manifest or layer media type is not supported."}]
    )
    with pytest.raises(AwsError, match="media type is not supported"):
        client.wait_ready("fn", lambda _: None)


def test_access_denied_on_the_repository_is_translated() -> None:
    import boto3
    from botocore.stub import Stubber

    sess = boto3.session.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    ecr = aws.ECRClient(sess)
    with Stubber(ecr._ecr) as stub:
        stub.add_client_error(
            "describe_repositories",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:DescribeRepositories",
        )
        with pytest.raises(AwsError) as err:
            ecr.find_repository("lit-digits")
    assert "ecr:DescribeRepositories" in err.value.what and "grant" in err.value.fix and err.value.exit_code == 4


def test_model_bucket_and_output_get_exactly_their_prefixes(digits_stub: Path) -> None:
    config = digits_stub / "lit.toml"
    text = config.read_text().replace('path = "model"', f'path = "s3://models/digits/v1"\nsha256 = "{"b" * 64}"')
    config.write_text(text + '\n[output]\ns3 = "s3://out"\n')
    doc = json.loads(deploy.role_policy(project.load(digits_stub), "123456789012", "us-east-1"))
    s3 = {(s["Action"], s["Resource"]) for s in doc["Statement"] if str(s["Action"]).startswith("s3:")}
    assert s3 == {("s3:GetObject", "arn:aws:s3:::models/digits/v1/*"), ("s3:PutObject", "arn:aws:s3:::out/*")}


def test_the_role_may_create_only_its_own_log_group(digits_stub: Path) -> None:
    doc = json.loads(deploy.role_policy(project.load(digits_stub), "123456789012", "us-east-1"))
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/digits"
    resources = {
        s["Action"] if isinstance(s["Action"], str) else s["Action"][0]: s["Resource"] for s in doc["Statement"]
    }
    assert resources == {"logs:CreateLogGroup": group, "logs:CreateLogStream": f"{group}:*"}
    assert "*" not in json.dumps(resources).replace(":*", "")


def test_role_names_are_one_per_function_even_when_cut() -> None:
    stem = "a" * 60
    one, two = deploy.role_name(stem + "-one"), deploy.role_name(stem + "-two")
    assert one != two and len(one) == len(two) == 64 and one.startswith("lit-" + "a" * 50)
    assert deploy.role_name("digits") == "lit-digits"


def test_a_function_fetching_its_model_is_tagged_with_the_manifest_it_pins(digits_stub: Path) -> None:
    sha = "b" * 64
    config = digits_stub / "lit.toml"
    config.write_text(config.read_text().replace('path = "model"', f'path = "s3://models/digits/v1"\nsha256 = "{sha}"'))
    want = deploy.desired(project.load(digits_stub), clients(), URI, None, "live", None)
    assert want.tags[deploy.MODEL_TAG] == sha and want.tags[deploy.MANAGED_TAG] == "true"
