"""Push to a real registry standing in for ECR, deploy to moto's Lambda, maintain, fail cleanly.

AWS APIs: moto server on 127.0.0.1. Registry: docker-registry with TLS + htpasswd under the ECR
host name from moto's token, so `lit push` runs its production path unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lit import aws
from lit import push as pusher
from lit.docker import Docker
from tests.e2e.conftest import RUN_ID, copy_project, lit, read_until, start_lit
from tests.e2e.registry import manifest

pytestmark = pytest.mark.e2e


@pytest.fixture()
def env(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return aws


@pytest.fixture()
def project(
    digits_project: Path, tmp_path: Path, docker: Docker, digits_image: str, moto_server: str
) -> Iterator[Path]:
    """A copy of the digits project under a fresh name, its image tagged for that name."""
    import boto3

    name = f"dep-{uuid.uuid4().hex[:8]}"
    proj = copy_project(digits_project, tmp_path / name, name)
    docker.tag(digits_image, f"lit-{name}:latest")
    yield proj
    # the stand-in's warm containers run the pushed images: deleting the function removes them,
    # so that the images can go
    lam = boto3.session.Session().client(
        "lambda", region_name="us-east-1", endpoint_url=moto_server, aws_access_key_id="t", aws_secret_access_key="t"
    )
    try:
        lam.delete_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        pass
    docker.remove_image(f"lit-{name}:latest")
    # the registry tags `lit push` made for this repository
    for ref in docker.references(f"*/lit-{name}"):
        docker.remove_image(ref)


def boto(service: str):
    import boto3

    return boto3.client(service, region_name="us-east-1")


def test_push_creates_the_repository_and_pushes_one_manifest(env: str, registry: dict, project: Path) -> None:
    out = json.loads(lit("push", str(project), "--json", "--tag", "v1").stdout)
    repo = out["repository"]
    described = boto("ecr").describe_repositories(repositoryNames=[repo])["repositories"][0]
    assert described["imageScanningConfiguration"]["scanOnPush"] is True
    policy = json.loads(boto("ecr").get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == 10
    digest, doc = manifest(registry, repo, "v1")
    assert out["digest"] == digest and out["uri"] == f"{registry['host']}/{repo}@{digest}"
    assert doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json", "one platform, no index"
    assert out["uploaded_layers"] >= 1

    again = json.loads(lit("push", str(project), "--json", "--tag", "v1").stdout)
    assert again["digest"] == digest and again["uploaded_layers"] == 0, "an unchanged image uploads nothing"


def test_tag_comes_from_git(env: str, registry: dict, project: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(project), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"], check=True
    )
    sha = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    out = json.loads(lit("push", str(project), "--json").stdout)
    assert out["tag"] in (sha, f"{sha}-dirty")


class ExpiringDocker(Docker):
    """The engine's credentials vanish before the first push, as when the ECR token expires."""

    pushes = 0

    def push(self, ref, log=None):
        self.pushes += 1
        if self.pushes == 1:
            self._run("logout", ref.split("/", 1)[0])
        return super().push(ref, log)


def test_expired_token_mid_push_logs_in_again(env: str, registry: dict, project: Path) -> None:
    from lit import project as projects

    logins = []

    class CountingECR(aws.ECRClient):
        def login(self):
            logins.append(1)
            return super().login()

    docker = ExpiringDocker()
    result = pusher.push(docker, projects.load(project), CountingECR(aws.session("us-east-1")), tag="exp")
    assert len(logins) == 2 and docker.pushes == 2
    assert result.digest == manifest(registry, result.repository, "exp")[0]


def test_the_ecr_login_lives_only_as_long_as_the_push_unless_kept(
    env: str, registry: dict, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `lit push`, the user's Docker configuration holds no ECR token (a CI runner shared
    between jobs keeps none); its other settings are untouched. --keep-login stores it as `docker
    login` does."""
    user = tmp_path / "docker-config"
    user.mkdir()
    (user / "config.json").write_text(json.dumps({"auths": {}, "HttpHeaders": {"X-Team": "ml"}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(user))
    out = json.loads(lit("push", str(project), "--json", "--tag", "short").stdout)
    host = out["uri"].split("/", 1)[0]
    assert json.loads((user / "config.json").read_text()) == {"auths": {}, "HttpHeaders": {"X-Team": "ml"}}
    assert out["digest"] == manifest(registry, out["repository"], "short")[0]
    lit("push", str(project), "--json", "--tag", "kept", "--keep-login")
    assert host in json.loads((user / "config.json").read_text())["auths"]


def test_deploy_by_digest_then_nothing_to_do_then_update_rollback_destroy(
    env: str, registry: dict, project: Path
) -> None:
    pushed = json.loads(lit("push", str(project), "--json").stdout)
    name = project.name
    first = json.loads(lit("deploy", str(project), "--url", "--json").stdout)
    fn = boto("lambda").get_function(FunctionName=name)
    assert fn["Code"]["ImageUri"] == pushed["uri"] and "@sha256:" in fn["Code"]["ImageUri"]
    assert fn["Configuration"]["MemorySize"] == 1024 and fn["Configuration"]["PackageType"] == "Image"
    alias = boto("lambda").get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == first["version"] == "1"
    assert boto("lambda").get_function_url_config(FunctionName=name, Qualifier="live")["AuthType"] == "AWS_IAM"
    role = fn["Configuration"]["Role"].rsplit("/", 1)[1]
    policy = boto("iam").get_role_policy(RoleName=role, PolicyName="lit")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, "no S3 for this project"

    again = json.loads(lit("deploy", str(project), "--url", "--json").stdout)
    assert again["changed"] is False and again["steps"] == [] and again["version"] == "1"
    assert len(boto("lambda").list_versions_by_function(FunctionName=name)["Versions"]) == 2  # $LATEST + 1

    config = project / "lit.toml"
    config.write_text(config.read_text().replace("memory = 1024", "memory = 2048"))
    dry = json.loads(lit("deploy", str(project), "--dry-run", "--json").stdout)
    assert [s["operation"] for s in dry["steps"]] == [
        "wait_ready",
        "update_configuration",
        "wait_ready",
        "publish_version",
        "set_alias",
    ]
    assert boto("lambda").get_function(FunctionName=name)["Configuration"]["MemorySize"] == 1024, (
        "dry run changed nothing"
    )
    second = json.loads(lit("deploy", str(project), "--json").stdout)
    assert second["version"] == "2"
    assert boto("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"

    status = json.loads(lit("status", str(project), "--json").stdout)
    assert status["alias_version"] == "2" and status["image_uri"] == pushed["uri"] and status["versions"] == ["1", "2"]
    back = json.loads(lit("rollback", str(project), "--json").stdout)
    assert (back["from"], back["to"]) == ("2", "1")
    assert boto("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    proc = lit("rollback", str(project), check=False)
    assert proc.returncode == 1 and "oldest" in proc.stderr

    gone = json.loads(lit("destroy", str(project), "--repository", "--json").stdout)
    assert any("delete function" in s for s in gone["steps"]) and any("IAM role" in s for s in gone["steps"])
    with pytest.raises(ClientError, match="ResourceNotFound|Function not found"):
        boto("lambda").get_function(FunctionName=name)
    with pytest.raises(ClientError, match="NoSuchEntity"):
        boto("iam").get_role(RoleName=role)
    assert not boto("ecr").describe_repositories()["repositories"] or all(
        r["repositoryName"] != pushed["repository"] for r in boto("ecr").describe_repositories()["repositories"]
    )


def standin(url: str, path: str) -> list[dict]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/_standin/{path}", timeout=10) as resp:
        return json.loads(resp.read())


def test_the_deployed_alias_reads_digits_and_rollback_changes_its_answer(
    env: str, registry: dict, project: Path, docker: Docker, base_image: tuple[str, str], tmp_path: Path
) -> None:
    """push -> deploy -> invoke the alias (the image runs on the stand-in) -> a new image -> rollback."""
    import base64

    from tests.conftest import heldout

    name = project.name
    lit("push", str(project), "--json")
    assert json.loads(lit("deploy", str(project), "--json").stdout)["version"] == "1"
    digits = heldout(project)
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"images": [base64.b64encode(p.read_bytes()).decode() for p, _ in digits]}))
    out = json.loads(lit("invoke", str(project), "--remote", "--event", str(batch), "--json").stdout)
    assert out["status"] == 200 and out["function_error"] is None
    predictions = out["payload"]["predictions"]
    right = sum(int(p[0]["label"]) == label for p, (_, label) in zip(predictions, digits, strict=True))
    assert right / len(digits) >= 0.95, f"{right}/{len(digits)} read right through the deployed alias"
    assert len(predictions[0]) == 3, "top_k = 3 in version 1"
    one = json.loads(lit("invoke", str(project), "--remote", "--image", str(digits[0][0])).stdout)
    assert int(one["predictions"][0][0]["label"]) == digits[0][1]
    check_remote_logs(project, len(digits))

    # version 2: a new image (top_k = 1), pushed and deployed; the alias answers with it
    config = project / "lit.toml"
    config.write_text(config.read_text().replace("top_k = 3", "top_k = 1"))
    lit("build", str(project), "--base", base_image[0])
    lit("push", str(project))
    assert json.loads(lit("deploy", str(project), "--json").stdout)["version"] == "2"
    ask = ["invoke", str(project), "--remote", "--image", str(digits[0][0])]
    assert len(json.loads(lit(*ask).stdout)["predictions"][0]) == 1
    assert len(json.loads(lit(*ask, "--alias", "1").stdout)["predictions"][0]) == 3, "version 1 kept its image"
    assert {c["version"] for c in standin(env, "containers") if c["function"] == name} == {"1", "2"}

    lit("rollback", str(project))
    assert len(json.loads(lit(*ask).stdout)["predictions"][0]) == 3, "rollback changed what the alias answers"

    lit("destroy", str(project), "--repository")
    assert not [c for c in standin(env, "containers") if c["function"] == name]
    assert not docker.containers(f"lit-standin.function={name}"), "destroy leaves no container running"
    with pytest.raises(ClientError, match="ResourceNotFound|Function not found"):
        boto("lambda").get_function(FunctionName=name)
    with pytest.raises(ClientError, match="NoSuchEntity"):
        boto("iam").get_role(RoleName=f"lit-{name}")


def remote_messages(project: Path, *args: str) -> list[dict]:
    out = lit("logs", str(project), "--remote", "--json", *args).stdout
    return [json.loads(line) for line in out.splitlines()]


def check_remote_logs(project: Path, batch: int) -> None:
    """The deployed function's CloudWatch Logs (the stand-in ships the container's output there):
    the EMF records and REPORT lines, by request id, and --follow."""
    import subprocess
    import sys
    import time

    deadline = time.monotonic() + 30
    while True:  # the lines reach CloudWatch Logs a moment after the answer
        lines = remote_messages(project)
        records = [json.loads(x["message"]) for x in lines if x["message"].startswith('{"_aws"')]
        requests = [r for r in records if r["event"] == "request"]
        if len(requests) >= 2 and sum(x["message"].startswith("REPORT") for x in lines) >= 2:
            break
        assert time.monotonic() < deadline, f"no request lines in CloudWatch Logs: {lines[-10:]}"
        time.sleep(0.5)
    assert [r["event"] for r in records].count("init") == 1
    assert requests[0]["batch_size"] == batch and requests[0]["status"] == 200
    assert all(x["source"].startswith(time.strftime("%Y/%m/%d/[1]", time.gmtime())) for x in lines), "stream names"
    rid = requests[0]["request_id"]
    one = [x["message"] for x in remote_messages(project, "--request-id", rid)]
    assert any(m.startswith(f"REPORT RequestId: {rid}") for m in one) and all(rid in m for m in one)

    time.sleep(1.1)  # every line so far is older than `start`
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    follow = subprocess.Popen(
        [sys.executable, "-m", "lit", "logs", str(project), "--remote", "--follow", "--since", start],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # (the follow starts at `start`, before the invoke, however late it is ready)
        image = str(
            project / "heldout" / sorted(json.loads((project / "heldout" / "labels.json").read_text())["labels"])[0]
        )
        lit("invoke", str(project), "--remote", "--image", image)
        read_until(follow, "REPORT RequestId:")
    finally:
        follow.kill()
        follow.wait()


def test_roles_grant_s3_only_as_lit_toml_needs(env: str, project: Path) -> None:
    from lit import deploy
    from lit import project as projects

    config = project / "lit.toml"
    config.write_text(config.read_text() + '\n[output]\ns3 = "s3://preds/digits"\n')
    doc = json.loads(deploy.role_policy(projects.load(project), "123456789012", "us-east-1"))
    s3 = [s for s in doc["Statement"] if str(s["Action"]).startswith("s3:")]
    assert s3 == [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::preds/digits/*"}]


def test_failures_are_one_clear_message(env: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no push recorded yet
    proc = lit("deploy", str(project), check=False)
    assert proc.returncode == 1 and "lit push" in proc.stderr
    # a tag instead of a digest
    proc = lit("deploy", str(project), "--image-uri", "x.dkr.ecr.us-east-1.amazonaws.com/r:latest", check=False)
    assert proc.returncode == 1 and "digest" in proc.stderr
    # nothing deployed to invoke
    proc = lit("invoke", str(project), "--remote", "-d", "{}", check=False)
    assert proc.returncode == 4 and "lit deploy" in proc.stderr
    # the wrong region: the function is not there
    proc = lit("status", str(project), "--region", "eu-west-1", check=False)
    assert proc.returncode == 4 and "does not exist in eu-west-1" in proc.stderr
    # no credentials at all
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    proc = lit("status", str(project), check=False)
    assert proc.returncode == 4 and "no AWS credentials" in proc.stderr and "Traceback" not in proc.stderr
    # no image built
    proc = lit("push", str(project), "--image", f"lit-nothing:{RUN_ID}", check=False)
    assert proc.returncode == 1 and "lit build" in proc.stderr


def test_any_oci_registry_with_registry_flag(registry: dict, project: Path, docker: Docker) -> None:
    docker.login(registry["host"], registry["username"], registry["password"])
    out = json.loads(lit("push", str(project), "--registry", registry["host"], "--tag", "oci", "--json").stdout)
    assert out["uri"].startswith(f"{registry['host']}/{out['repository']}@sha256:")
    assert out["digest"] == manifest(registry, out["repository"], "oci")[0]


def test_ctrl_c_during_push_exits_130_and_says_what_is_left(env: str, registry: dict, project: Path) -> None:
    import signal

    from tests.e2e.conftest import Reader

    proc = start_lit("push", str(project), "--tag", "int")
    stderr = Reader(proc, "stderr")
    stderr.until("pushing ", timeout=120)
    proc.send_signal(signal.SIGINT)
    err = stderr.rest()
    assert proc.wait(timeout=60) == 130, err
    assert "interrupted while pushing" in err and "has no push of this project to deploy yet" in err, err
    assert "run `lit push` again" in err and "Traceback" not in err
    assert not (project / ".lit" / "last-push.json").exists(), "nothing recorded for deploy"
    again = json.loads(lit("push", str(project), "--json", "--tag", "int").stdout)
    assert again["digest"] == manifest(registry, again["repository"], "int")[0]


def test_ctrl_c_at_any_moment_of_a_push_exits_130_and_says_what_is_left(
    env: str, registry: dict, project: Path
) -> None:
    """SIGINT at 10 moments spread over a push (start-up, the ECR calls, the login, the upload): exit
    130 every time with a message; the push record (what `lit deploy` deploys) changes only when the
    message says the push had finished."""
    import time

    from tests.conftest import interrupt_at, spread

    record = project / ".lit" / "last-push.json"
    lit("push", str(project), "--tag", "first")  # uploads the layers; the next pushes find them there
    t = time.monotonic()
    lit("push", str(project), "--tag", "second")
    duration = time.monotonic() - t
    ended = 0
    for i, delay in enumerate(spread(duration)):
        before = record.read_text()
        code, err = interrupt_at(["push", str(project), "--tag", f"int{i}"], delay)
        said = f"SIGINT at {delay:.2f} s: {err[-800:]}"
        # quicker than the one timed, it had ended (or was ending: the signal then lands on a process
        # the kernel is tearing down) before the moment: no interrupt to check
        if code is None or (code == 0 and delay >= 0.7 * duration):
            ended += 1
            continue
        assert code == 130 and "error: interrupted" in err and "Traceback" not in err, said
        if "push finished" in err:
            assert record.read_text() != before, said
        else:
            assert record.read_text() == before, said
    assert ended <= 2, f"{ended} of 10 pushes ended before their moment"


def test_a_deploy_killed_after_publishing_converges_on_the_real_image(
    env: str, registry: dict, project: Path, base_image: tuple[str, str], moto_server: str
) -> None:
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    def fault(**spec: object) -> None:
        req = urllib.request.Request(f"{moto_server}/_standin/faults", data=json.dumps(spec).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    image = str(
        project / "heldout" / sorted(json.loads((project / "heldout" / "labels.json").read_text())["labels"])[0]
    )
    ask = ["invoke", str(project), "--remote", "--image", image]
    lit("push", str(project))
    lit("deploy", str(project))
    config = project / "lit.toml"
    config.write_text(config.read_text().replace("top_k = 3", "top_k = 1"))
    lit("build", str(project), "--base", base_image[0])
    lit("push", str(project))

    fault(operation="PublishVersion", when="after", action="hang")
    proc = subprocess.Popen([sys.executable, "-m", "lit", "deploy", str(project)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(f["reached"] for f in standin(moto_server, "faults")):
        assert time.monotonic() < deadline and proc.poll() is None, "the deploy never reached publish_version"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/_standin/faults", method="DELETE")).close()
    assert len(json.loads(lit(*ask).stdout)["predictions"][0]) == 3, "the alias still serves version 1"

    result = json.loads(lit("deploy", str(project), "--json").stdout)
    assert result["version"] == "2" and any("already published" in s for s in result["steps"])
    assert len(json.loads(lit(*ask).stdout)["predictions"][0]) == 1, "the alias serves the new image"
    shas = [v["CodeSha256"] for v in boto("lambda").list_versions_by_function(FunctionName=project.name)["Versions"]]
    assert len(shas) == 3 and len(set(shas[1:])) == 2, "$LATEST, and one version per image"


POLLER = """import os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:  # straight to the invocations: no restore lifecycle
    urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next").read()
"""


def test_snapstart_publishes_only_an_image_with_the_restore_lifecycle_or_the_label(
    env: str, registry: dict, project: Path, docker: Docker, tmp_path: Path
) -> None:
    """LIT's image (awslambdaric calls restore/next after init) gets a SnapStart version; an image whose
    runtime goes straight to invocation/next is refused, and the alias stays; the same image with
    LABEL com.amazonaws.lambda.feature.snapstart="Allow" is accepted."""
    import subprocess

    from lit.base import BOOTSTRAP_TAG
    from tests.conftest import heldout

    name = project.name
    config = project / "lit.toml"
    config.write_text(config.read_text().replace("[function]\n", "[function]\nsnapstart = true\n"))
    lit("push", str(project))
    assert json.loads(lit("deploy", str(project), "--json").stdout)["version"] == "1"
    one = boto("lambda").get_function_configuration(FunctionName=name, Qualifier="1")
    assert one["State"] == "Active" and one["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    digit, label = heldout(project)[0]
    answer = json.loads(lit("invoke", str(project), "--remote", "--image", str(digit)).stdout)
    assert int(answer["predictions"][0][0]["label"]) == label
    box = next(c for c in standin(env, "containers") if c["function"] == name and c["version"] == "1")
    assert "LIT_SNAPSTART_EMULATE=1" in (docker.inspect_container(box["id"]) or {})["Config"]["Env"]

    docker.login(registry["host"], registry["username"], registry["password"])
    repo = f"{registry['host']}/lit-{name}"  # the project fixture removes this repository's tags
    uris, built = {}, []
    try:
        for tag, extra in (("plain", ""), ("allow", 'LABEL com.amazonaws.lambda.feature.snapstart="Allow"\n')):
            ctx = tmp_path / tag
            ctx.mkdir()
            (ctx / "poll.py").write_text(POLLER)
            (ctx / "Dockerfile").write_text(
                f'FROM {BOOTSTRAP_TAG}\nCOPY poll.py /poll.py\n{extra}CMD ["python3", "/poll.py"]\n'
            )
            local = f"lit-snapprobe-{RUN_ID}-{tag}"
            subprocess.run([docker.binary, "build", "-q", "-t", local, str(ctx)], check=True, capture_output=True)
            built.append(local)
            docker.tag(local, f"{repo}:{tag}")
            uris[tag] = f"{repo}@{docker.push(f'{repo}:{tag}')[0]}"

        refused = lit("deploy", str(project), "--image-uri", uris["plain"], check=False)
        assert refused.returncode == 4 and "InvalidParameterValueException" in refused.stderr, refused.stderr
        assert "invocation/next" in refused.stderr and "com.amazonaws.lambda.feature.snapstart" in refused.stderr
        assert "alias live still on version 1" in refused.stderr and "Traceback" not in refused.stderr
        assert boto("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"

        accepted = json.loads(lit("deploy", str(project), "--image-uri", uris["allow"], "--json").stdout)
        assert accepted["version"] == "2"
        two = boto("lambda").get_function_configuration(FunctionName=name, Qualifier="2")
        assert two["State"] == "Active" and two["SnapStart"]["OptimizationStatus"] == "On"
    finally:
        for local in built:
            docker.remove_image(local)
    assert not [c for c in docker.containers("lit-standin") if "probe" in c.name], "no probe container is left"


def test_a_gate_refuses_a_worse_model_before_any_traffic_moves(
    env: str, registry: dict, project: Path, base_image: tuple[str, str], tmp_path: Path
) -> None:
    """Version 1 is the trained digits model; the candidate is the same network trained for one epoch.
    `lit deploy --gate` evaluates the published candidate on the held-out digits through the
    stand-in (the real image answers) and refuses to move the alias, naming the measure, the data
    and by how much; a deploy again refuses again; a looser gate lets it through."""
    from tests.e2e.conftest import train_digits

    name = project.name
    lit("push", str(project))
    assert json.loads(lit("deploy", str(project), "--json").stdout)["version"] == "1"
    heldout = project / "heldout"
    gate = tmp_path / "gate.toml"
    gate.write_text(f'[deploy.gate]\ndata = "{heldout}"\nmin = 0.9\nmax_drop = 0.02\nbatch = 16\n')

    train_digits(project, epochs=1)
    lit("build", str(project), "--base", base_image[0])
    lit("push", str(project))
    for _ in range(2):  # the second deploy reuses the published version and is refused again
        refused = lit("deploy", str(project), "--gate", str(gate), check=False)
        assert refused.returncode == 1, refused.stderr
        err = refused.stderr
        assert "gate refused version 2" in err and str(heldout) in err and "Traceback" not in err, err
        assert "accuracy" in err and "below the floor 0.9" in err and "worse than live version 1's" in err, err
        assert "alias live still on version 1" in err, err
        assert boto("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"

    gate.write_text(f'data = "{heldout}"\nmin = 0.1\nmax_drop = 0.9\nbatch = 16\n')
    passed = json.loads(lit("deploy", str(project), "--gate", str(gate), "--json").stdout)
    assert passed["version"] == "2" and passed["gate"]["live"] == "1"
    assert passed["gate"]["value"] < passed["gate"]["live_value"] - 0.05
    assert boto("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"

    # `lit eval --remote`: the alias (now the worse version 2) against version 1, through Lambda
    report = json.loads(
        lit(
            "eval", str(project), "--data", str(heldout), "--remote", "--against", "1", "--batch", "16", "--json"
        ).stdout
    )
    assert report["candidate"]["target"] == f"{name}:live" and report["comparison"]["against"] == f"{name}:1"
    assert report["candidate"]["value"] == pytest.approx(passed["gate"]["value"], abs=1e-6)
    lo, hi = report["comparison"]["interval"]
    assert hi < 0, f"the worse model's drop, through the deployed alias: [{lo}, {hi}]"
    version_one = json.loads(
        lit(
            "eval", str(project), "--data", str(heldout), "--remote", "--version", "1", "--batch", "16", "--json"
        ).stdout
    )
    assert version_one["candidate"]["value"] == pytest.approx(passed["gate"]["live_value"], abs=1e-6)


# A new version that fails a third of its requests: its preprocessing raises for them (an invoke
# error, Lambda's Errors metric), while the rest answer as version 1 does.
FLAKY = """
import zlib

from lit_runtime import defaults


def preprocess(inputs, context):
    if any(zlib.crc32(bytes(x) if not isinstance(x, str) else x.encode()) % 3 == 0 for x in inputs):
        raise RuntimeError("the new preprocessing breaks on this input")
    return defaults.preprocess_image(inputs, context)
"""


class Traffic:
    """Requests through the alias all along the rollout, each recorded with the version that answered."""

    def __init__(self, name: str, images: list[Path]) -> None:
        import base64
        import threading

        self.name, self.stop = name, threading.Event()
        self.bodies = [json.dumps({"image": base64.b64encode(p.read_bytes()).decode()}).encode() for p in images]
        self.seen: list[tuple[float, str, bool]] = []  # (when it was sent, executed version, failed)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        lam, i = boto("lambda"), 0
        while not self.stop.is_set():
            sent = time.monotonic()
            resp = lam.invoke(FunctionName=self.name, Qualifier="live", Payload=self.bodies[i % len(self.bodies)])
            version = resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-executed-version", "?")
            self.seen.append((sent, version, "FunctionError" in resp))
            i += 1

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)


def test_a_canary_that_fails_requests_is_rolled_back_and_a_healthy_one_promoted(
    env: str, registry: dict, project: Path, base_image: tuple[str, str]
) -> None:
    """Traffic goes through the alias all along; which version answered each request is recorded."""
    from tests.conftest import heldout

    name = project.name
    lit("push", str(project))
    assert json.loads(lit("deploy", str(project), "--json").stdout)["version"] == "1"
    images = [p for p, _ in heldout(project)[:30]]

    (project / "service.py").write_text(FLAKY)
    lit("build", str(project), "--base", base_image[0])
    lit("push", str(project))
    with Traffic(name, images) as traffic:
        bad = lit("deploy", str(project), "--canary", "30%:20s", check=False)
        ended = time.monotonic()
        time.sleep(3)  # requests sent after the rollback
    err = bad.stderr
    assert bad.returncode == 1 and "rolled back: version 2 at 30% of live's traffic had errors" in err, err
    assert "alias live is on version 1 with all the traffic again" in err and "Traceback" not in err
    canary = [t for t, v, _ in traffic.seen if v == "2"]
    assert canary and canary[-1] - canary[0] < 20, "rolled back within its watch period of 20 s"
    alias = boto("lambda").get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == "1" and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    during = [(v, failed) for t, v, failed in traffic.seen if t < ended]
    assert any(v == "2" for v, _ in during), "the canary received traffic through the alias"
    assert any(failed for v, failed in during if v == "2") and not any(failed for v, failed in during if v == "1")
    after = [v for t, v, _ in traffic.seen if t > ended]
    assert after and set(after) == {"1"}, "after the rollback only version 1 answers"

    # a healthy new version (top_k 2, no failing preprocessing): promoted in steps, then all traffic
    (project / "service.py").unlink()
    config = project / "lit.toml"
    config.write_text(config.read_text().replace("top_k = 3", "top_k = 2"))
    lit("build", str(project), "--base", base_image[0])
    lit("push", str(project))
    with Traffic(name, images) as traffic:
        good = lit("deploy", str(project), "--linear", "50%:6s", "--json")
        ended = time.monotonic()
        time.sleep(3)
    result = json.loads(good.stdout)
    assert result["version"] == "3" and [s["weight"] for s in result["rollout"]] == [0.5]
    assert result["rollout"][0]["invocations"] > 0 and result["rollout"][0]["errors"] == 0
    during = [v for t, v, _ in traffic.seen if t < ended]
    assert "3" in during and "1" in during, "both versions answered while the new one had half the traffic"
    assert {v for t, v, _ in traffic.seen if t > ended} == {"3"}
    assert not any(failed for _, _, failed in traffic.seen)


def test_a_rollout_stopped_part_way_is_shown_and_converges(
    env: str, registry: dict, project: Path, base_image: tuple[str, str]
) -> None:
    """Ctrl-C while the canary is watched: exit 130, the alias keeps its weights, `lit status` shows
    them, `lit rollback` undoes the rollout; rolled out again, it finishes."""
    import signal

    from tests.e2e.conftest import Reader

    name = project.name
    lit("push", str(project))
    lit("deploy", str(project))
    config = project / "lit.toml"
    config.write_text(config.read_text().replace("top_k = 3", "top_k = 2"))
    lit("build", str(project), "--base", base_image[0])
    lit("push", str(project))
    proc = start_lit("deploy", str(project), "--canary", "10%:5m")
    err = Reader(proc, "stderr")
    err.until("of live's traffic to version 2", timeout=120)
    proc.send_signal(signal.SIGINT)
    rest = err.rest()
    assert proc.wait(60) == 130, rest
    assert "interrupted during the rollout: alias live is on version 1 with 10% of its traffic to version 2" in rest
    status = lit("status", str(project))
    assert "rollout: 10% of live's traffic goes to version 2" in status.stdout
    assert json.loads(lit("status", str(project), "--json").stdout)["routing"] == {"2": 0.1}

    back = lit("rollback", str(project))
    assert "version 1 with 10% to version 2 -> 1" in back.stdout
    alias = boto("lambda").get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == "1" and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")

    again = json.loads(lit("deploy", str(project), "--json").stdout)  # no rollout asked: all at once
    assert again["version"] == "2"
    assert boto("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
