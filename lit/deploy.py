"""`lit deploy` / `status` / `rollback` / `destroy`: plan the AWS calls, then run them (or print).

The planner reads what exists and lists only the changes; `--dry-run` prints that list. The order
keeps a function whole: role, then function code/configuration (waiting for Active + Successful),
then a published version, and only then the alias moves. Whatever fails before the alias moves
leaves the alias on the last good version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from .errors import AwsError, LitError
from .project import Project

POLICY_NAME = "lit"


@dataclass
class Step:
    action: str
    description: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    function: str
    image_uri: str
    alias: str
    steps: list[Step]

    @property
    def changes(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True)
class Clients:
    lam: Any
    iam: Any
    account: str
    region: str


@dataclass(frozen=True)
class Desired:
    name: str
    image_uri: str
    role_arn: str | None  # given by the user; None: LIT manages role lit-NAME
    policy: str
    memory: int
    timeout: int
    ephemeral: int
    environment: dict[str, str]
    architecture: str
    alias: str
    url_auth: str | None  # AWS_IAM | NONE | None (no URL)

    @property
    def role_name(self) -> str:
        return f"lit-{self.name}"[:64]


def role_policy(project: Project, account: str, region: str) -> str:
    """Least privilege: its own log group; S3 read of the model bucket and write of the outputs
    only when lit.toml uses them."""
    logs = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{project.name}"
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": f"arn:aws:logs:{region}:{account}:*"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{logs}:*"},
    ]
    if project.model_url and project.model_url.startswith("s3://"):
        u = urlparse(project.model_url)
        statements.append(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{u.netloc}/{u.path.strip('/')}/*"}
        )
    if output := project.raw.get("output", {}).get("s3"):
        u = urlparse(output)
        prefix = u.path.strip("/")
        statements.append(
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{u.netloc}/{prefix + '/' if prefix else ''}*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def desired(
    project: Project, clients: Clients, image_uri: str, role: str | None, alias: str, url_auth: str | None
) -> Desired:
    if "@sha256:" not in image_uri:
        raise LitError(f"{image_uri} is not pinned by digest", "deploy REPOSITORY@sha256:... (what `lit push` prints)")
    fn = project.function
    return Desired(
        name=project.name,
        image_uri=image_uri,
        role_arn=role,
        policy=role_policy(project, clients.account, clients.region),
        memory=fn.memory,
        timeout=fn.timeout,
        ephemeral=fn.ephemeral_storage,
        environment=dict(fn.environment),
        architecture=fn.architecture,
        alias=alias,
        url_auth=url_auth,
    )


def _config_diff(cfg: dict[str, Any], want: Desired, role_arn: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if cfg.get("MemorySize") != want.memory:
        changes["MemorySize"] = want.memory
    if cfg.get("Timeout") != want.timeout:
        changes["Timeout"] = want.timeout
    if cfg.get("EphemeralStorage", {}).get("Size", 512) != want.ephemeral:
        changes["EphemeralStorage"] = {"Size": want.ephemeral}
    if (cfg.get("Environment") or {}).get("Variables", {}) != want.environment:
        changes["Environment"] = {"Variables": want.environment}
    if cfg.get("Role") != role_arn:
        changes["Role"] = role_arn
    return changes


def plan(clients: Clients, want: Desired) -> Plan:
    steps: list[Step] = []
    role_arn = want.role_arn
    if role_arn is None:
        existing = clients.iam.role_arn(want.role_name)
        if existing is None:
            role_arn = f"arn:aws:iam::{clients.account}:role/{want.role_name}"
            steps.append(
                Step(
                    "create_role",
                    f"create IAM role {want.role_name} (trusts lambda.amazonaws.com)",
                    {"name": want.role_name},
                )
            )
        else:
            role_arn = existing
        wanted = json.dumps(json.loads(want.policy), sort_keys=True)
        if existing is None or clients.iam.role_policy(want.role_name, POLICY_NAME) != wanted:
            steps.append(
                Step(
                    "put_role_policy",
                    f"set role {want.role_name}'s policy (its logs; S3 only as lit.toml needs)",
                    {"name": want.role_name, "document": want.policy},
                )
            )
    current = clients.lam.get_function(want.name)
    publish = False
    if current is None:
        steps.append(
            Step(
                "create_function",
                f"create function {want.name} from {want.image_uri} ({want.memory} MB, {want.timeout}s, {want.architecture})",
                {
                    "FunctionName": want.name,
                    "PackageType": "Image",
                    "Code": {"ImageUri": want.image_uri},
                    "Role": role_arn,
                    "MemorySize": want.memory,
                    "Timeout": want.timeout,
                    "EphemeralStorage": {"Size": want.ephemeral},
                    "Environment": {"Variables": want.environment},
                    "Architectures": [want.architecture],
                    "Tags": {"lit:managed": "true"},
                },
            )
        )
        publish = True
    else:
        cfg = current["Configuration"]
        if current.get("Code", {}).get("ImageUri") != want.image_uri or cfg.get("Architectures", ["x86_64"]) != [
            want.architecture
        ]:
            steps.append(
                Step(
                    "update_code",
                    f"point {want.name} at {want.image_uri}",
                    {"FunctionName": want.name, "ImageUri": want.image_uri, "Architectures": [want.architecture]},
                )
            )
            publish = True
        if changes := _config_diff(cfg, want, role_arn):
            steps.append(
                Step(
                    "update_configuration",
                    f"update {want.name}: {', '.join(sorted(changes))}",
                    {"FunctionName": want.name, **changes},
                )
            )
            publish = True
    alias = None if current is None else clients.lam.get_alias(want.name, want.alias)
    if not publish and alias is not None:
        live = clients.lam.get_function(want.name, want.alias) or {}
        same = live.get("Code", {}).get("ImageUri") == want.image_uri and not _config_diff(
            live.get("Configuration", {}), want, role_arn
        )
        publish = not same
    if publish or alias is None:
        steps.append(Step("publish_version", f"publish a version of {want.name}", {"FunctionName": want.name}))
        steps.append(Step("set_alias", f"move alias {want.alias} to the new version", {"exists": alias is not None}))
    if want.url_auth:
        url = None if current is None or alias is None else clients.lam.get_url(want.name, want.alias)
        if url is None:
            steps.append(
                Step(
                    "create_url",
                    f"create a function URL on {want.alias} (auth {want.url_auth})",
                    {"auth": want.url_auth},
                )
            )
        elif url.get("AuthType") != want.url_auth:
            steps.append(Step("update_url", f"set the function URL's auth to {want.url_auth}", {"auth": want.url_auth}))
    return Plan(want.name, want.image_uri, want.alias, steps)


@dataclass
class DeployResult:
    function: str
    image_uri: str
    alias: str
    version: str | None
    url: str | None
    changed: bool
    steps: list[str]


def execute(clients: Clients, p: Plan, log: Callable[[str], None]) -> DeployResult:
    version: str | None = None
    url: str | None = None
    for step in p.steps:
        log(f"- {step.description}")
        if step.action == "create_role":
            clients.iam.create_role(step.params["name"])
        elif step.action == "put_role_policy":
            clients.iam.put_role_policy(step.params["name"], POLICY_NAME, step.params["document"])
        elif step.action == "create_function":
            clients.lam.create_function(**step.params)
            clients.lam.wait_ready(p.function, log)
        elif step.action == "update_code":
            clients.lam.update_code(p.function, step.params["ImageUri"], step.params["Architectures"][0])
            clients.lam.wait_ready(p.function, log)
        elif step.action == "update_configuration":
            clients.lam.update_configuration(**step.params)
            clients.lam.wait_ready(p.function, log)
        elif step.action == "publish_version":
            ready = clients.lam.wait_ready(p.function, log)
            version = clients.lam.publish_version(p.function, ready["CodeSha256"], f"lit deploy {p.image_uri}")
        elif step.action == "set_alias":
            assert version is not None
            clients.lam.set_alias(p.function, p.alias, version, step.params["exists"])
        elif step.action == "create_url":
            url = clients.lam.create_url(p.function, p.alias, step.params["auth"])
        elif step.action == "update_url":
            clients.lam.update_url(p.function, p.alias, step.params["auth"])
    alias = clients.lam.get_alias(p.function, p.alias)
    found_url = clients.lam.get_url(p.function, p.alias) if url is None else None
    return DeployResult(
        p.function,
        p.image_uri,
        p.alias,
        version or (alias or {}).get("FunctionVersion"),
        url or (found_url or {}).get("FunctionUrl"),
        p.changes,
        [s.description for s in p.steps],
    )


@dataclass
class Status:
    function: str
    state: str
    last_update: str
    image_uri: str
    resolved_image_uri: str | None
    alias: str
    alias_version: str | None
    versions: list[str]
    url: str | None
    url_auth: str | None


def status(clients: Clients, name: str, alias: str) -> Status:
    fn = clients.lam.get_function(name)
    if fn is None:
        raise AwsError(f"function {name} does not exist in {clients.region}", "deploy it with `lit deploy`")
    cfg = fn["Configuration"]
    a = clients.lam.get_alias(name, alias)
    url = clients.lam.get_url(name, alias) if a else None
    return Status(
        name,
        cfg.get("State", "?"),
        cfg.get("LastUpdateStatus", "?"),
        fn.get("Code", {}).get("ImageUri", ""),
        fn.get("Code", {}).get("ResolvedImageUri"),
        alias,
        (a or {}).get("FunctionVersion"),
        [v["Version"] for v in clients.lam.versions(name)],
        (url or {}).get("FunctionUrl"),
        (url or {}).get("AuthType"),
    )


def rollback(clients: Clients, name: str, alias: str, to: str | None = None) -> tuple[str, str]:
    """Move the alias to the version before the one it is on (or to `to`); returns (from, to)."""
    a = clients.lam.get_alias(name, alias)
    if a is None:
        raise AwsError(f"{name} has no alias {alias}", "deploy it first with `lit deploy`")
    current = a["FunctionVersion"]
    versions = sorted(int(v["Version"]) for v in clients.lam.versions(name))
    if to is None:
        older = [v for v in versions if v < int(current)]
        if not older:
            raise LitError(f"{name}:{alias} is on version {current}, the oldest there is", "nothing to roll back to")
        to = str(older[-1])
    elif int(to) not in versions:
        raise LitError(f"{name} has no version {to}", f"pick one of {', '.join(map(str, versions))}")
    clients.lam.set_alias(name, alias, to, True)
    return current, to


def destroy_plan(clients: Clients, project: Project, alias: str, repository: bool, ecr: Any) -> list[Step]:
    steps: list[Step] = []
    name = project.name
    if clients.lam.get_function(name) is not None:
        if clients.lam.get_alias(name, alias) is not None and clients.lam.get_url(name, alias) is not None:
            steps.append(Step("delete_url", f"delete the function URL of {name}:{alias}"))
        steps.append(Step("delete_function", f"delete function {name} (all versions and aliases)"))
    role = f"lit-{name}"[:64]
    if clients.iam.role_arn(role) is not None and clients.iam.managed_by_lit(role):
        steps.append(Step("delete_role", f"delete IAM role {role} (created by LIT)", {"name": role}))
    if repository and ecr is not None and ecr.find_repository(project.image_repo) is not None:
        steps.append(Step("delete_repository", f"delete ECR repository {project.image_repo} and its images"))
    return steps


def destroy(
    clients: Clients, project: Project, alias: str, steps: list[Step], ecr: Any, log: Callable[[str], None]
) -> None:
    for step in steps:
        log(f"- {step.description}")
        if step.action == "delete_url":
            clients.lam.delete_url(project.name, alias)
        elif step.action == "delete_function":
            clients.lam.delete_function(project.name)
        elif step.action == "delete_role":
            clients.iam.delete_role(step.params["name"])
        elif step.action == "delete_repository":
            ecr.delete_repository(project.image_repo)
