"""`lit template`: a SAM template that cfn-lint accepts, mirroring what `lit deploy` makes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional
URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-digits@sha256:" + "c" * 64


def render(project: Path, *args: str) -> dict:
    out = project / "t.json"
    proc = subprocess.run(
        [sys.executable, "-m", "lit", "template", str(project), "-o", str(out), *args], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    cfn_lint = shutil.which("cfn-lint") or str(Path(sys.executable).parent / "cfn-lint")
    lint = subprocess.run([cfn_lint, str(out)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return json.loads(out.read_text())


def test_function_url_template(digits_copy: Path) -> None:
    (digits_copy / ".lit").mkdir()
    (digits_copy / ".lit" / "last-push.json").write_text(
        json.dumps(
            {
                "image": "x",
                "digest": "sha256:" + "c" * 64,
                "uri": URI,
                "registry": "r",
                "repository": "lit-digits",
                "tag": "t",
                "uploaded_layers": 0,
            }
        )
    )
    doc = render(digits_copy)
    props = doc["Resources"]["Function"]["Properties"]
    assert props["PackageType"] == "Image" and props["AutoPublishAlias"] == "live"
    assert doc["Parameters"]["ImageUri"]["Default"] == URI
    assert props["MemorySize"] == 1024 and props["FunctionUrlConfig"] == {"AuthType": "AWS_IAM"}
    assert "Policies" not in props and props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    grants = doc["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert [g["Action"] for g in grants] == ["logs:CreateLogGroup", ["logs:CreateLogStream", "logs:PutLogEvents"]]


def test_a_wrong_url_auth_is_refused_and_no_template_is_written(digits_copy: Path) -> None:
    for command in ("template", "deploy"):
        out = digits_copy / "t.json"
        args = ["-o", str(out)] if command == "template" else ["--url", "--dry-run"]
        proc = subprocess.run(
            [sys.executable, "-m", "lit", command, str(digits_copy), "--url-auth", "PUBLIC", *args],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2 and "'PUBLIC' is not one of" in proc.stderr and "'AWS_IAM', 'NONE'" in proc.stderr
        assert not out.exists()


def test_api_template_with_openapi_and_s3(digits_copy: Path) -> None:
    config = digits_copy / "lit.toml"
    config.write_text(config.read_text() + '\n[output]\ns3 = "s3://preds/x"\n')
    doc = render(digits_copy, "--api", "--image-uri", URI)
    api = doc["Resources"]["Api"]["Properties"]["DefinitionBody"]
    post = api["paths"]["/predict"]["post"]
    assert (
        "image/*" in post["requestBody"]["content"] and post["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    )
    grants = doc["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::preds/x/*"},
    } in grants
    assert "FunctionUrlConfig" not in doc["Resources"]["Function"]["Properties"]
    # array answers (Accept: application/x-npy) pass through API Gateway as bytes
    binary = doc["Resources"]["Api"]["Properties"]["BinaryMediaTypes"]
    assert binary == ["application~1x-npy", "application~1x-npz", "image~1*"]
    assert api["x-amazon-apigateway-binary-media-types"] == ["application/x-npy", "application/x-npz", "image/*"]


def test_api_template_takes_the_bodies_of_the_input_kind(digits_copy: Path) -> None:
    config = digits_copy / "lit.toml"
    config.write_text(config.read_text().replace('input = "image"', 'input = "tensor"').split("[image]")[0])
    doc = render(digits_copy, "--api", "--image-uri", URI)
    api = doc["Resources"]["Api"]["Properties"]["DefinitionBody"]
    content = api["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert sorted(content) == ["application/json", "application/x-npy"]
    assert doc["Resources"]["Api"]["Properties"]["BinaryMediaTypes"] == ["application~1x-npy", "application~1x-npz"]


def test_deploy_settings_reach_the_template(digits_copy: Path) -> None:
    config = digits_copy / "lit.toml"
    text = config.read_text().replace(
        "[function]\n", "[function]\nreserved_concurrency = 10\nprovisioned_concurrency = 2\n"
    )
    config.write_text(
        text
        + '\n[function.tags]\nteam = "vision"\n\n[function.vpc]\nsubnets = ["subnet-0a1b2c3d"]\nsecurity_groups = ["sg-0b2c3d4e"]\n'
    )
    props = render(digits_copy, "--image-uri", URI)["Resources"]["Function"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 10
    assert props["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 2}
    assert props["Tags"] == {"team": "vision", "lit:managed": "true"}
    assert props["VpcConfig"] == {"SubnetIds": ["subnet-0a1b2c3d"], "SecurityGroupIds": ["sg-0b2c3d4e"]}
    assert "Policies" not in props


def test_the_templates_role_grants_exactly_what_the_deploys_role_grants(digits_copy: Path) -> None:
    """One source for the policy: the template's role document, its CloudFormation pseudo-parameters
    put in, equals the document `lit deploy` writes, for a model bucket, outputs and a VPC."""
    from lit import deploy, project

    config = digits_copy / "lit.toml"
    text = config.read_text().replace('path = "model"', f'path = "s3://models/dg/v1"\nsha256 = "{"d" * 64}"')
    text += '\n[output]\ns3 = "s3://outbucket/results"\n'
    text += '\n[function.vpc]\nsubnets = ["subnet-0a1b2c3d"]\nsecurity_groups = ["sg-0b2c3d4e"]\n'
    config.write_text(text)
    doc = render(digits_copy, "--image-uri", URI)
    role = doc["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    filled = json.loads(
        json.dumps(role)
        .replace("${AWS::AccountId}", "123456789012")
        .replace("${AWS::Region}", "eu-west-1")
        .replace("${AWS::Partition}", "aws")
    )
    for statement in filled["Statement"]:
        if isinstance(statement["Resource"], dict):
            statement["Resource"] = statement["Resource"]["Fn::Sub"]
    assert filled == json.loads(deploy.role_policy(project.load(digits_copy), "123456789012", "eu-west-1"))
    resources = {json.dumps(s["Resource"]) for s in filled["Statement"]}
    assert '"arn:aws:s3:::models/dg/v1/*"' in resources and '"arn:aws:s3:::outbucket/results/*"' in resources
    assert "S3ReadPolicy" not in json.dumps(doc) and "S3WritePolicy" not in json.dumps(doc), "no bucket-wide grants"


def test_snapstart_is_on_the_function_only_when_lit_toml_asks(digits_copy: Path) -> None:
    """SnapStart applies to the versions SAM publishes (AutoPublishAlias); cfn-lint accepts it."""
    assert "SnapStart" not in render(digits_copy, "--image-uri", URI)["Resources"]["Function"]["Properties"]
    config = digits_copy / "lit.toml"
    config.write_text(config.read_text().replace("[function]\n", "[function]\nsnapstart = true\n"))
    props = render(digits_copy, "--image-uri", URI)["Resources"]["Function"]["Properties"]
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"} and props["AutoPublishAlias"] == "live"


@pytest.mark.parametrize(
    ("flag", "routing"),
    [
        (
            ["--canary", "10%:5m"],
            {"Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": 10, "CanaryInterval": 5}},
        ),
        (
            ["--linear", "20%:90s"],
            {"Type": "TimeBasedLinear", "TimeBasedLinear": {"LinearPercentage": 20, "LinearInterval": 2}},
        ),
    ],
)
def test_a_rollout_becomes_a_deployment_preference_with_alarms_on_the_new_version(
    digits_copy: Path, flag: list[str], routing: dict
) -> None:
    """The same policy as `lit deploy --canary/--linear` for CloudFormation: CodeDeploy shifts the
    alias (periods rounded up to whole minutes), alarms watch the version SAM publishes."""
    doc = render(digits_copy, "--image-uri", URI, *flag, "--max-error-rate", "0.02", "--max-p99", "250")
    res = doc["Resources"]
    assert res["RolloutConfig"]["Properties"] == {"ComputePlatform": "Lambda", "TrafficRoutingConfig": routing}
    pref = res["Function"]["Properties"]["DeploymentPreference"]
    assert pref["Type"] == {"Ref": "RolloutConfig"}
    assert {a["Ref"] for a in pref["Alarms"]} == {"NewVersionErrorRate", "NewVersionThrottles", "NewVersionP99"}
    rate = res["NewVersionErrorRate"]["Properties"]
    assert rate["Threshold"] == 0.02 and rate["Metrics"][-1]["Expression"] == "(errors + answers) / MAX([requests, 1])"
    dims = {d["Name"]: d["Value"] for d in res["NewVersionThrottles"]["Properties"]["Dimensions"]}
    name = doc["Resources"]["Function"]["Properties"]["FunctionName"]
    assert dims == {
        "FunctionName": name,
        "Resource": f"{name}:live",
        "ExecutedVersion": {"Fn::GetAtt": ["Function.Version", "Version"]},
    }
    assert (
        res["NewVersionP99"]["Properties"]["ExtendedStatistic"] == "p99"
        and res["NewVersionP99"]["Properties"]["Threshold"] == 250
    )
    assert "DeploymentPreference" not in render(digits_copy, "--image-uri", URI)["Resources"]["Function"]["Properties"]
