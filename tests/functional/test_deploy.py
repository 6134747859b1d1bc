"""`lit deploy` against the Lambda stand-in (moto server, put right): the planner decides from each
version's CodeSha256 and configuration, a deploy stopped at any step boundary (killed, failed on an
injected AWS error, or Ctrl-C) leaves the alias on a good version, and the next deploy converges
with one version per digest. The settings users expect are planned, applied and idempotent.

These run the real CLI as a subprocess; images are not run here (the e2e tier does that), so the
digests are made up: moto accepts any image URI pinned by digest.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.functional
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-digits"


def digest(tag: str) -> str:
    import hashlib

    return hashlib.sha256(tag.encode()).hexdigest()


def uri(tag: str) -> str:
    return f"{REPO}@sha256:{digest(tag)}"


@pytest.fixture()
def env(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    yield aws
    clear(aws)


@pytest.fixture()
def proj(digits_copy: Path) -> Path:
    config = digits_copy / "lit.toml"
    config.write_text(config.read_text().replace('name = "digits"', f'name = "d{uuid.uuid4().hex[:10]}"'))
    return digits_copy


def name_of(project: Path) -> str:
    import tomllib

    return str(tomllib.loads((project / "lit.toml").read_text())["name"])


def lit(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "lit", *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"lit {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def admin(url: str, path: str, method: str = "GET", body: dict | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}/_standin/{path}", data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def fault(url: str, **spec: object) -> None:
    admin(url, "faults", "POST", spec)


def clear(url: str) -> None:
    admin(url, "faults", "DELETE")


def wait_reached(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(f["reached"] for f in admin(url, "faults")):  # type: ignore[union-attr]
            return
        if proc.poll() is not None:
            raise AssertionError(f"lit exited {proc.returncode} before the fault: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the deploy never reached the fault")


def boto(service: str):  # noqa: ANN201
    import boto3

    return boto3.client(service, region_name="us-east-1")


def alias_version(name: str) -> str:
    return str(boto("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"])


def versions(name: str) -> list[dict]:
    return [
        v for v in boto("lambda").list_versions_by_function(FunctionName=name)["Versions"] if v["Version"] != "$LATEST"
    ]


def deploy(project: Path, tag: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return lit("deploy", str(project), "--image-uri", uri(tag), *extra, check=check)


def test_versions_keep_their_own_image_and_the_planner_reads_code_sha(env: str, proj: Path) -> None:
    name = name_of(proj)
    first = json.loads(deploy(proj, "a", "--json").stdout)
    assert first["version"] == "1" and first["changed"]
    again = json.loads(deploy(proj, "a", "--json").stdout)
    assert again["changed"] is False and again["steps"] == []
    second = json.loads(deploy(proj, "b", "--json").stdout)
    assert second["version"] == "2"
    old = boto("lambda").get_function(FunctionName=name, Qualifier="1")
    assert old["Code"]["ImageUri"] == uri("a") and old["Configuration"]["CodeSha256"] == digest("a")
    assert boto("lambda").get_function(FunctionName=name, Qualifier="2")["Code"]["ImageUri"] == uri("b")
    # back to a: version 1 already carries it, so the alias moves there and nothing is published
    back = json.loads(deploy(proj, "a", "--json").stdout)
    assert back["version"] == "1" and len(versions(name)) == 2
    assert any("already published" in s for s in back["steps"])


# Where a deploy of image b (over a live version 1 of image a) stops: the call, and whether the
# fault strikes before or after the stand-in (moto) has acted on it.
BOUNDARIES = {
    "before any change": ("GetFunction", "before", 0),
    "after update_function_code": ("UpdateFunctionCode", "after", 0),
    "during the wait": ("GetFunctionConfiguration", "before", 1),  # the wait that follows the update
    "after publish_version": ("PublishVersion", "after", 0),
    "after update_alias": ("UpdateAlias", "after", 0),
}


@pytest.mark.parametrize("how", ["killed", "aws error"])
@pytest.mark.parametrize("boundary", list(BOUNDARIES))
def test_a_deploy_stopped_at_any_boundary_converges(env: str, proj: Path, boundary: str, how: str) -> None:
    name = name_of(proj)
    deploy(proj, "a")
    assert alias_version(name) == "1"
    operation, when, skip = BOUNDARIES[boundary]
    if how == "killed":
        fault(env, operation=operation, when=when, action="hang", skip=skip)
        proc = start("deploy", str(proj), "--image-uri", uri("b"))
        wait_reached(env, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    else:
        fault(env, operation=operation, when=when, action="error", skip=skip, times=10)  # past boto's retries
        failed = deploy(proj, "b", check=False)
        assert failed.returncode == 4 and "ServiceException" in failed.stderr, failed.stderr
        assert "Traceback" not in failed.stderr
        said = "nothing was changed" if boundary == "before any change" else "run `lit deploy` again"
        assert said in failed.stderr and "again" in failed.stderr, failed.stderr
    clear(env)
    live = alias_version(name)
    served = boto("lambda").get_function(FunctionName=name, Qualifier="live")["Configuration"]["CodeSha256"]
    assert served == (digest("b") if boundary == "after update_alias" else digest("a")), "a good version stays live"
    assert live == ("2" if boundary == "after update_alias" else "1")

    again = json.loads(deploy(proj, "b", "--json").stdout)
    live = alias_version(name)
    assert again["version"] == live
    assert boto("lambda").get_function(FunctionName=name, Qualifier=live)["Configuration"]["CodeSha256"] == digest("b")
    shas = [v["CodeSha256"] for v in versions(name)]
    assert sorted(shas) == sorted({digest("a"), digest("b")}), f"one version per digest, got {shas}"
    assert json.loads(deploy(proj, "b", "--json").stdout)["changed"] is False


def test_ctrl_c_says_what_is_left(env: str, proj: Path) -> None:
    name = name_of(proj)
    deploy(proj, "a")
    deploy(proj, "b")
    assert alias_version(name) == "2"
    fault(env, operation="PublishVersion", when="after", action="hang")
    proc = start("deploy", str(proj), "--image-uri", uri("c"))
    wait_reached(env, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "alias live still on version 2" in err and "run `lit deploy` again" in err
    assert "Traceback" not in err
    clear(env)
    assert alias_version(name) == "2"
    assert json.loads(deploy(proj, "c", "--json").stdout)["version"] == "3"


@pytest.mark.parametrize(
    ("snapstart", "shift"),
    [(False, ()), (True, ()), (False, ("--linear", "50%:1s"))],
    ids=["on-demand", "snapstart", "rollout"],
)
def test_ctrl_c_at_any_moment_of_a_deploy_exits_130_and_says_where_the_alias_is(
    env: str, proj: Path, snapstart: bool, shift: tuple[str, ...]
) -> None:
    """SIGINT at 10 moments spread over a deploy (from 0.05 s: start-up, the reads, the plan, the
    calls; with SnapStart, the wait for the version's snapshot too; with a rollout, its watched
    step): exit 130 every time, a message, and a message that never claims a move the alias did not
    make (a stopped rollout says which share the new version has); the next deploy converges."""
    from tests.conftest import interrupt_at, spread

    if snapstart:
        set_snapstart(proj, True)
    name = name_of(proj)
    deploy(proj, "a")
    timings = []
    for tag in ("b", "b2"):  # the quicker of two deploys like the ones interrupted (the machine is shared)
        t = time.monotonic()
        deploy(proj, tag, *shift)
        timings.append(time.monotonic() - t)
    duration = min(timings)
    ended = 0
    for i, delay in enumerate(spread(duration)):
        before = alias_version(name)
        code, err = interrupt_at(["deploy", str(proj), "--image-uri", uri(f"c{i}"), *shift], delay)
        said = f"SIGINT at {delay:.2f} s: {err[-800:]}"
        # quicker than the one timed, it had ended (or was ending: the signal then lands on a process
        # the kernel is tearing down) before the moment: no interrupt to check
        if code is None or (code == 0 and delay >= 0.7 * duration):
            ended += 1
            continue
        assert code == 130 and "error: interrupted" in err and "Traceback" not in err, said
        now = alias_version(name)
        weights = boto("lambda").get_alias(FunctionName=name, Name="live").get("RoutingConfig") or {}
        if weights.get("AdditionalVersionWeights"):
            (other, share), *_ = weights["AdditionalVersionWeights"].items()
            assert f"alias live is on version {now} with {share:.0%} of its traffic to version {other}" in err, said
        elif now != before:
            assert f"alias live is on version {now}" in err or f"is version {now}" in err, said
        else:
            assert "alias live is on version" not in err and "deploy finished" not in err, said
    assert ended <= 3, f"{ended} of 10 deploys ended before their moment"
    final = json.loads(deploy(proj, "z", "--json", *shift).stdout)
    assert alias_version(name) == final["version"]
    assert not (boto("lambda").get_alias(FunctionName=name, Name="live").get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    ), "no weights left once the rollout is done"
    served = boto("lambda").get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert served["CodeSha256"] == digest("z")
    if snapstart:
        assert served["State"] == "Active" and served["SnapStart"]["OptimizationStatus"] == "On"


def test_two_long_names_get_two_roles_and_destroying_one_leaves_the_other_whole(
    env: str, digits_copy: Path, tmp_path: Path
) -> None:
    """Two 64-character names that share their first 60 get a role each (the cut name ends with a
    hash of the whole); destroying one leaves the other's role, grants and health as they were."""
    import shutil

    from lit import deploy as deployer

    stem = f"r{uuid.uuid4().hex[:8]}" + "x" * 51
    names = [f"{stem}-one", f"{stem}-two"]
    projects = []
    for name in names:
        dest = tmp_path / name[-3:]
        shutil.copytree(digits_copy, dest)
        config = dest / "lit.toml"
        config.write_text(config.read_text().replace('name = "digits"', f'name = "{name}"'))
        projects.append(dest)
        deploy(dest, "a")
    roles = [boto("lambda").get_function(FunctionName=n)["Configuration"]["Role"].split("/")[-1] for n in names]
    assert roles == [deployer.role_name(n) for n in names] and roles[0] != roles[1]
    assert all(len(r) <= 64 for r in roles)
    iam = boto("iam")
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=roles[0])["Tags"]}
    assert tags["lit:function"] == names[0]
    grants = iam.get_role_policy(RoleName=roles[0], PolicyName="lit")["PolicyDocument"]
    assert f"/aws/lambda/{names[0]}" in json.dumps(grants)
    lit("destroy", str(projects[1]))
    assert iam.get_role_policy(RoleName=roles[0], PolicyName="lit")["PolicyDocument"] == grants
    assert lit("status", str(projects[0])).returncode == 0


def test_a_role_another_function_uses_is_neither_changed_nor_deleted(env: str, proj: Path) -> None:
    from lit import deploy as deployer

    name = name_of(proj)
    deploy(proj, "a")
    role = deployer.role_name(name)
    iam = boto("iam")
    arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    grants = iam.get_role_policy(RoleName=role, PolicyName="lit")["PolicyDocument"]
    other = f"o{uuid.uuid4().hex[:10]}"  # made by hand with this function's role
    boto("lambda").create_function(FunctionName=other, Role=arn, Code={"ImageUri": uri("o")}, PackageType="Image")
    refused = deploy(proj, "b", check=False)
    assert refused.returncode == 1 and f"IAM role {role} is the execution role of {other} too" in refused.stderr
    assert "--role" in refused.stderr and "Traceback" not in refused.stderr
    assert iam.get_role_policy(RoleName=role, PolicyName="lit")["PolicyDocument"] == grants
    assert alias_version(name) == "1"
    gone = json.loads(lit("destroy", str(proj), "--json").stdout)
    assert gone["kept"] == [f"kept IAM role {role}: it is the execution role of {other} too"]
    assert iam.get_role(RoleName=role)["Role"]["Arn"] == arn


def test_status_fails_on_a_missing_alias_role_or_grant_and_says_what_to_run(env: str, proj: Path) -> None:
    from lit import deploy as deployer

    name = name_of(proj)
    deploy(proj, "a")
    assert lit("status", str(proj)).returncode == 0
    boto("lambda").delete_alias(FunctionName=name, Name="live")
    gone = lit("status", str(proj), check=False)
    assert gone.returncode == 1 and "alias live missing" in gone.stdout, gone.stdout
    assert "alias live is missing" in gone.stderr and "run `lit deploy" in gone.stderr
    deploy(proj, "a")
    iam, role = boto("iam"), deployer.role_name(name)
    logs_only = {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
    iam.put_role_policy(
        RoleName=role, PolicyName="lit", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [logs_only]})
    )
    weak = lit("status", str(proj), check=False)
    assert weak.returncode == 1 and f"role {role} does not hold the grants lit.toml needs" in weak.stderr
    deploy(proj, "a")
    assert lit("status", str(proj)).returncode == 0
    deploy(proj, "a", "--url")
    assert lit("status", str(proj)).returncode == 0
    boto("lambda").delete_function_url_config(FunctionName=name, Qualifier="live")
    no_url = lit("status", str(proj), check=False)
    assert no_url.returncode == 1 and "the function URL of" in no_url.stderr and "lit deploy --url" in no_url.stderr
    iam.delete_role_policy(RoleName=role, PolicyName="lit")
    iam.delete_role(RoleName=role)
    missing = lit("status", str(proj), check=False)
    assert missing.returncode == 1 and f"execution role {role} is missing" in missing.stderr


def test_tags_dropped_from_lit_toml_are_removed_and_other_tools_tags_stay(env: str, proj: Path) -> None:
    name = name_of(proj)
    config = proj / "lit.toml"
    text = config.read_text()
    config.write_text(text.replace("[function]\n", '[function]\ntags = { team = "ml", env = "prod" }\n'))
    deploy(proj, "a")
    lam = boto("lambda")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"owner": "someone"})  # another tool's tag
    config.write_text(text.replace("[function]\n", '[function]\ntags = { team = "ml" }\n'))
    again = json.loads(deploy(proj, "a", "--json").stdout)
    assert again["steps"] == [f"tag {name}: lit:tags", f"untag {name}: env"], again["steps"]
    tags = lam.list_tags(Resource=arn)["Tags"]
    assert "env" not in tags and tags["team"] == "ml" and tags["owner"] == "someone"
    assert tags["lit:tags"] == "team" and tags["lit:managed"] == "true"
    assert json.loads(deploy(proj, "a", "--json").stdout)["changed"] is False


def test_an_update_in_progress_is_waited_for(env: str, proj: Path) -> None:
    name = name_of(proj)
    deploy(proj, "a")
    fault(env, operation="UpdateFunctionCode", when="after", action="pending", polls=2)
    proc = lit("deploy", str(proj), "--image-uri", uri("b"))
    assert "last update InProgress" in proc.stderr
    assert alias_version(name) == "2"


def test_settings_are_planned_applied_and_idempotent(env: str, proj: Path) -> None:
    name = name_of(proj)
    config = proj / "lit.toml"
    config.write_text(
        config.read_text()
        + """
[function.environment]
LOG_LEVEL = "debug"

[function.tags]
team = "vision"
cost-center = "42"

[function.vpc]
subnets = ["subnet-0a1b2c3d", "subnet-0b2c3d4e"]
security_groups = ["sg-0c3d4e5f"]
"""
    )
    text = config.read_text().replace(
        "[function]\n", "[function]\nreserved_concurrency = 5\nprovisioned_concurrency = 2\n"
    )
    config.write_text(text)
    dry = lit("deploy", str(proj), "--image-uri", uri("a"), "--dry-run").stdout
    assert "put_reserved_concurrency(name=" in dry and "count=5" in dry
    assert "put_provisioned_concurrency" in dry and "a month" in dry and "$" in dry
    with pytest.raises(ClientError, match="ResourceNotFound|not found"):
        boto("lambda").get_function(FunctionName=name)

    deploy(proj, "a")
    fn = boto("lambda").get_function(FunctionName=name)
    cfg = fn["Configuration"]
    assert cfg["Environment"]["Variables"] == {"LOG_LEVEL": "debug"}
    assert sorted(cfg["VpcConfig"]["SubnetIds"]) == ["subnet-0a1b2c3d", "subnet-0b2c3d4e"]
    assert cfg["VpcConfig"]["SecurityGroupIds"] == ["sg-0c3d4e5f"]
    assert fn["Concurrency"]["ReservedConcurrentExecutions"] == 5
    tags = boto("lambda").list_tags(Resource=cfg["FunctionArn"])["Tags"]
    assert tags["team"] == "vision" and tags["cost-center"] == "42" and tags["lit:managed"] == "true"
    pc = boto("lambda").get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert pc["RequestedProvisionedConcurrentExecutions"] == 2
    role = cfg["Role"].rsplit("/", 1)[1]
    policy = boto("iam").get_role_policy(RoleName=role, PolicyName="lit")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert any("ec2:CreateNetworkInterface" in s["Action"] for s in policy["Statement"]), "a VPC function's ENIs"

    again = json.loads(deploy(proj, "a", "--json").stdout)
    assert again["changed"] is False, again["steps"]

    config.write_text(
        config.read_text()
        .replace("reserved_concurrency = 5\nprovisioned_concurrency = 2\n", "")
        .replace('"debug"', '"info"')
    )
    steps = [s["operation"] for s in json.loads(deploy(proj, "a", "--dry-run", "--json").stdout)["steps"]]
    assert steps == [  # the function's own settings change before a version is published and the alias moves
        "wait_ready",
        "update_configuration",
        "wait_ready",
        "delete_reserved_concurrency",
        "delete_provisioned_concurrency",
        "publish_version",
        "set_alias",
    ]
    deploy(proj, "a")
    assert "Concurrency" not in boto("lambda").get_function(FunctionName=name)
    with pytest.raises(ClientError, match="ProvisionedConcurrencyConfigNotFound"):
        boto("lambda").get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert alias_version(name) == "2"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("reserved_concurrency = -1", "reserved_concurrency"),
        ("reserved_concurrency = 2\nprovisioned_concurrency = 3", "exceeds reserved_concurrency"),
        ('vpc = { subnets = ["subnet-0a1b2c3d"] }', "and security_groups (at most 5) together"),
        ('tags = { "aws:owner" = "me" }', "not a tag Lambda accepts"),
        ('environment = { AWS_REGION = "eu-west-1" }', "set by Lambda itself"),
        ("tags = { " + ", ".join(f't{i} = "v"' for i in range(47)) + " }", "LIT adds up to 4"),
        ('tags = { owner = "' + "x" * 300 + '" }', "not a tag Lambda accepts"),
        ('tags = { "a!" = "b" }', "not a tag Lambda accepts"),
        ('environment = { X = "1" }', "'X' is not a name Lambda accepts"),
        ('environment = { BIG = "' + "x" * 5000 + '" }', "Lambda's limit is 4096"),
        ("reserved_concurrency = 1000000", "more than this account can reserve"),
    ],
)
def test_bad_settings_are_refused_before_any_call(env: str, proj: Path, setting: str, message: str) -> None:
    config = proj / "lit.toml"
    config.write_text(config.read_text().replace("[function]\n", f"[function]\n{setting}\n"))
    proc = deploy(proj, "a", check=False)
    assert proc.returncode == 2 and message in proc.stderr and "fix:" in proc.stderr, proc.stderr[-1000:]
    with pytest.raises(ClientError, match="ResourceNotFound"):
        boto("lambda").get_function(FunctionName=name_of(proj))
    with pytest.raises(ClientError, match="NoSuchEntity"):
        boto("iam").get_role(RoleName=f"lit-{name_of(proj)}")


def set_snapstart(project: Path, on: bool) -> None:
    config = project / "lit.toml"
    text = config.read_text().replace("snapstart = true\n", "").replace("snapstart = false\n", "")
    config.write_text(text.replace("[function]\n", f"[function]\nsnapstart = {'true' if on else 'false'}\n"))


def configuration(name: str, qualifier: str | None = None) -> dict:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    return boto("lambda").get_function_configuration(FunctionName=name, **kwargs)


def test_snapstart_is_set_waited_for_and_converges(env: str, proj: Path) -> None:
    """SnapStart on: the function is created with it, the alias moves only once the version is Active
    with its snapshot On; turned off, Lambda's ApplyOn is set back to None and a version without it
    is published (a version's configuration includes SnapStart); turned on again, the SnapStart
    version is reused."""
    name = name_of(proj)
    set_snapstart(proj, True)
    dry = json.loads(deploy(proj, "a", "--dry-run", "--json").stdout)["steps"]
    create = next(s for s in dry if s["operation"] == "create_function")
    assert create["params"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    ops = [s["operation"] for s in dry]
    assert ops.index("publish_version") < ops.index("wait_version") < ops.index("set_alias")

    first = deploy(proj, "a")
    assert f"{name}:live -> version 1" in first.stdout
    assert f"waiting for {name}:1: state Pending, SnapStart Off" in first.stderr, first.stderr
    assert configuration(name)["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    one = configuration(name, "1")
    assert one["State"] == "Active" and one["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert json.loads(deploy(proj, "a", "--json").stdout)["changed"] is False
    status = json.loads(lit("status", str(proj), "--json").stdout)
    assert status["snapstart"] == "PublishedVersions" and status["snapstart_optimization"] == "On"
    assert "snapstart: PublishedVersions (version 1's snapshot: On)" in lit("status", str(proj)).stdout

    set_snapstart(proj, False)  # Lambda reports it on: deploy turns it off, and publishes without it
    steps = json.loads(deploy(proj, "a", "--dry-run", "--json").stdout)["steps"]
    update = next(s for s in steps if s["operation"] == "update_configuration")
    assert update["params"] == {"FunctionName": name, "SnapStart": {"ApplyOn": "None"}}
    assert "wait_version" not in [s["operation"] for s in steps]
    assert json.loads(deploy(proj, "a", "--json").stdout)["version"] == "2"
    assert configuration(name, "2")["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert json.loads(lit("status", str(proj), "--json").stdout)["snapstart"] == "None"

    set_snapstart(proj, True)  # version 1 has this image and SnapStart: the alias goes back to it
    back = json.loads(deploy(proj, "a", "--json").stdout)
    assert back["version"] == "1" and any("already published" in s for s in back["steps"]), back["steps"]
    assert len(versions(name)) == 2


def test_a_snapstart_version_that_fails_leaves_the_alias_and_names_lambdas_reason(env: str, proj: Path) -> None:
    name = name_of(proj)
    set_snapstart(proj, True)
    deploy(proj, "a")
    reason = "Init failure while creating the snapshot: ModuleNotFoundError"
    fault(env, operation="PublishVersion", when="after", action="failed", code="FunctionError", message=reason)
    failed = deploy(proj, "b", check=False)
    assert failed.returncode == 4, failed.stderr
    assert f"version {name}:2 is Failed (FunctionError): {reason}" in failed.stderr, failed.stderr
    assert "the alias was not moved" in failed.stderr and "alias live still on version 1" in failed.stderr
    assert "Traceback" not in failed.stderr
    clear(env)
    assert alias_version(name) == "1"
    # the failed version is never reused; a fixed image deploys
    assert json.loads(deploy(proj, "c", "--json").stdout)["version"] == "3"
    assert alias_version(name) == "3"


def test_snapstart_with_what_it_does_not_allow_is_refused_before_any_aws_call(env: str, proj: Path) -> None:
    config = proj / "lit.toml"
    before = admin(env, "calls")
    for setting in ("provisioned_concurrency = 1", "ephemeral_storage = 1024"):
        config.write_text(config.read_text().replace("[function]\n", f"[function]\nsnapstart = true\n{setting}\n"))
        proc = deploy(proj, "a", check=False)
        assert proc.returncode == 2 and "snapstart = true with" in proc.stderr and "fix:" in proc.stderr, proc.stderr
        config.write_text(config.read_text().replace(f"snapstart = true\n{setting}\n", ""))
    assert admin(env, "calls") == before, "no call reached the stand-in"


def test_unknown_steps_are_refused_before_anything_runs() -> None:
    from lit import deploy as deployer

    class Recorder:
        calls: list[str] = []

        def create_role(self, name: str) -> None:
            self.calls.append(name)

    clients = deployer.Clients(lam=Recorder(), iam=Recorder(), account="1", region="us-east-1")
    steps = [
        deployer.Step("iam", "create_role", {"name": "r"}, "create"),
        deployer.Step("lambda", "create_functoin", {}, "typo"),
    ]
    with pytest.raises(deployer.LitError, match="unknown step lambda.create_functoin"):
        deployer.execute(clients, steps, lambda _: None)
    assert Recorder.calls == []


def test_remote_logs_of_a_function_that_does_not_exist_say_so(env: str, proj: Path) -> None:
    proc = lit("logs", str(proj), "--remote", check=False)
    assert proc.returncode == 4 and f"function {name_of(proj)} does not exist" in proc.stderr, proc.stderr
    absurd = lit("logs", str(proj), "--remote", "--since", "99999999d", check=False)
    assert absurd.returncode == 2 and "before 1970" in absurd.stderr and "Traceback" not in absurd.stderr
