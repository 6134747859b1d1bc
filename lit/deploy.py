"""`lit deploy` / `status` / `rollback` / `destroy`: plan the AWS calls, then run them (or print).

A plan is a list of steps, each one call (service, operation, parameters) run by one executor.
The planner decides from facts that hold on Lambda: each version's CodeSha256 (the image digest)
and configuration, the alias's version, the function's tags and concurrency. The order keeps a
function whole: role, then function code and configuration (waiting for Active + Successful),
then a published version (with SnapStart, waited for until Active with its snapshot On), and only
then the alias moves. A version that already carries this image and configuration (SnapStart
included) is reused, never published twice, so a deploy that was killed or failed at any point
converges when run again; until the alias moves it stays on the last good version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import lambda_limits as limits
from . import policy, prices, rollout
from .errors import AwsError, ConfigError, LitError
from .gate import Refused
from .project import Project

POLICY_NAME = policy.NAME
PUBLISHED = "<version published above>"  # a parameter filled in by the executor
MANAGED_TAG = "lit:managed"
FUNCTION_TAG = "lit:function"  # on a role LIT made: the one function it is the execution role of
TAGS_TAG = "lit:tags"  # on a function: the keys of the tags lit.toml set (so that dropped ones are removed)
MODEL_TAG = "lit:model"  # on a function fetching its model from a bucket: the manifest's sha256 it pins
URL_TAG = "lit:url"  # on a function deployed with --url: the URL's auth (so `lit status` misses a lost URL)
SNAPSTART_ON, SNAPSTART_OFF = "PublishedVersions", "None"  # SnapStart's ApplyOn values

# The operations a step may name, by service: methods of that service's client in lit/aws.py.
OPERATIONS: dict[str, frozenset[str]] = {
    "iam": frozenset({"create_role", "put_role_policy", "tag_role", "delete_role"}),
    "lambda": frozenset(
        {
            "create_function",
            "update_code",
            "update_configuration",
            "wait_ready",
            "publish_version",
            "wait_version",
            "set_alias",
            "tag",
            "untag",
            "put_reserved_concurrency",
            "delete_reserved_concurrency",
            "put_provisioned_concurrency",
            "delete_provisioned_concurrency",
            "create_url",
            "update_url",
            "delete_url",
            "delete_function",
        }
    ),
    "ecr": frozenset({"delete_repository"}),
}


@dataclass(frozen=True)
class Step:
    """One AWS call: which client, which operation, its parameters, and what it does in words."""

    service: str
    operation: str
    params: dict[str, Any]
    description: str

    @property
    def call(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if k != "document")
        return f"{self.service}.{self.operation}({args})"


@dataclass
class Plan:
    function: str
    image_uri: str
    alias: str
    live_version: str | None  # the alias's version before this deploy (None: no alias yet)
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
    ecr: Any = None

    def client(self, service: str) -> Any:
        found = {"lambda": self.lam, "iam": self.iam, "ecr": self.ecr}.get(service)
        if found is None:
            raise LitError(f"no {service} client for this plan", "a bug in LIT's planner: please report it")
        return found


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
    tags: dict[str, str] = field(default_factory=dict)
    reserved: int | None = None
    provisioned: int = 0
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    snapstart: bool = False

    @property
    def role_name(self) -> str:
        return role_name(self.name)

    @property
    def code_sha(self) -> str:
        """Lambda's CodeSha256 of an image function: the image digest."""
        return self.image_uri.split("@sha256:", 1)[1]

    @property
    def vpc(self) -> dict[str, list[str]]:
        return {"SubnetIds": list(self.subnets), "SecurityGroupIds": list(self.security_groups)}

    @property
    def apply_on(self) -> str:
        """SnapStart's ApplyOn, as Lambda names it."""
        return SNAPSTART_ON if self.snapstart else SNAPSTART_OFF


def role_name(function: str) -> str:
    """The execution role LIT makes for a function: lit-NAME, one per function. A name too long for
    IAM's 64 characters keeps its start and ends with a hash of the whole name, so that two
    functions whose names share their start never share a role."""
    name = f"lit-{function}"
    if len(name) <= 64:
        return name
    return f"{name[:54]}-{hashlib.sha256(function.encode()).hexdigest()[:9]}"


def role_users(clients: Clients, arn: str, tags: dict[str, str], function: str) -> list[str]:
    """The other functions a role belongs to or serves: the one its lit:function tag names, and any
    whose execution role it is."""
    owner = tags.get(FUNCTION_TAG)
    users = {owner} if owner and owner != function else set()
    return sorted(users | {f for f in clients.lam.functions_using(arn) if f != function})


def role_policy(project: Project, account: str, region: str) -> str:
    """The role's policy document, as JSON (lit/policy.py is its one source)."""
    return policy.dumps(policy.document(project, account, region))


def desired(
    project: Project,
    clients: Clients,
    image_uri: str,
    role: str | None,
    alias: str,
    url_auth: str | None,
    image_architecture: str | None = None,
) -> Desired:
    """What lit.toml asks for, with the image to run. `image_architecture` (when known) must be
    the function's: Lambda takes a mismatched image and every invoke then fails (exec format error)."""
    if "@sha256:" not in image_uri:
        raise LitError(f"{image_uri} is not pinned by digest", "deploy REPOSITORY@sha256:... (what `lit push` prints)")
    fn = project.function
    if image_architecture is not None and image_architecture != fn.architecture:
        raise LitError(
            f"{image_uri} is an {image_architecture} image, but lit.toml's [function] architecture is "
            f"{fn.architecture}: on Lambda every invoke would fail (exec format error); nothing was changed",
            f'set [function] architecture = "{image_architecture}" in lit.toml, or `lit build` and `lit push` '
            f"the project for {fn.architecture}, then deploy again",
            exit_code=2,
        )
    if fn.reserved_concurrency is not None:
        _check_reserved(clients, project.name, fn.reserved_concurrency)
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
        tags={
            **fn.tags,
            MANAGED_TAG: "true",
            **_tracked(fn.tags),
            **({MODEL_TAG: project.sha256} if project.model_url and project.sha256 else {}),
            **({URL_TAG: url_auth} if url_auth else {}),
        },
        reserved=fn.reserved_concurrency,
        provisioned=fn.provisioned_concurrency,
        subnets=fn.subnets,
        security_groups=fn.security_groups,
        snapstart=fn.snapstart,
    )


def _check_reserved(clients: Clients, name: str, reserved: int) -> None:
    """Lambda keeps UNRESERVED_MIN of the account's concurrency unreserved: refuse, before any
    change, a reservation that would take it (the account's limit is read once, here)."""
    limit, unreserved = clients.lam.account_concurrency()
    fn = clients.lam.get_function(name)
    held = int(((fn or {}).get("Concurrency") or {}).get("ReservedConcurrentExecutions") or 0)
    most = unreserved + held - limits.UNRESERVED_MIN
    if reserved > most:
        raise ConfigError(
            f"lit.toml: [function] reserved_concurrency = {reserved} is more than this account can reserve in "
            f"{clients.region}: its limit is {limit}, {unreserved} of it unreserved, and Lambda keeps "
            f"{limits.UNRESERVED_MIN} unreserved, so {name} can reserve at most {max(most, 0)}",
            "lower it, or ask AWS for a higher concurrency limit (Service Quotas: Lambda, Concurrent executions)",
        )


def _tracked(tags: dict[str, str]) -> dict[str, str]:
    """The lit:tags tag that records lit.toml's tag keys, when they fit one tag value (keys without
    spaces, 256 characters in all); none when they do not (then dropped tags stay until removed by hand)."""
    keys = " ".join(sorted(tags))
    if any(" " in k for k in tags) or len(keys) > limits.TAG_VALUE:
        return {}
    return {TAGS_TAG: keys}


def _config_diff(cfg: dict[str, Any], want: Desired, role_arn: str) -> dict[str, Any]:
    """The configuration parameters (UpdateFunctionConfiguration's names) that differ from `cfg`."""
    changes: dict[str, Any] = {}
    if cfg.get("MemorySize") != want.memory:
        changes["MemorySize"] = want.memory
    if cfg.get("Timeout") != want.timeout:
        changes["Timeout"] = want.timeout
    if (cfg.get("EphemeralStorage") or {}).get("Size", 512) != want.ephemeral:
        changes["EphemeralStorage"] = {"Size": want.ephemeral}
    if (cfg.get("Environment") or {}).get("Variables", {}) != want.environment:
        changes["Environment"] = {"Variables": want.environment}
    if cfg.get("Role") != role_arn:
        changes["Role"] = role_arn
    vpc = cfg.get("VpcConfig") or {}
    if sorted(vpc.get("SubnetIds") or []) != sorted(want.subnets) or sorted(
        vpc.get("SecurityGroupIds") or []
    ) != sorted(want.security_groups):
        changes["VpcConfig"] = want.vpc
    # A version's configuration includes SnapStart: a version published without it is not one with it.
    if apply_on(cfg) != want.apply_on:
        changes["SnapStart"] = {"ApplyOn": want.apply_on}
    return changes


def apply_on(cfg: dict[str, Any]) -> str:
    """SnapStart's ApplyOn in a configuration Lambda reported (None when it reports no SnapStart)."""
    return str((cfg.get("SnapStart") or {}).get("ApplyOn") or SNAPSTART_OFF)


def _matches(cfg: dict[str, Any], want: Desired, role_arn: str) -> bool:
    """This version (or $LATEST) runs the wanted image with the wanted configuration (and did not
    fail to become ready: a SnapStart version whose snapshot failed serves nothing)."""
    return (
        cfg.get("State") != "Failed"
        and cfg.get("CodeSha256") == want.code_sha
        and cfg.get("Architectures", ["x86_64"]) == [want.architecture]
        and not _config_diff(cfg, want, role_arn)
    )


def _role_steps(clients: Clients, want: Desired) -> tuple[str, list[Step]]:
    if want.role_arn is not None:
        return want.role_arn, []
    steps: list[Step] = []
    existing = clients.iam.role_arn(want.role_name)
    role_arn = existing or f"arn:aws:iam::{clients.account}:role/{want.role_name}"
    if existing is None:
        steps.append(
            Step(
                "iam",
                "create_role",
                {"name": want.role_name, "function": want.name},
                f"create IAM role {want.role_name} (trusts Lambda)",
            )
        )
    else:
        tags = clients.iam.role_tags(want.role_name)
        others = role_users(clients, existing, tags, want.name)
        if others:
            raise LitError(
                f"IAM role {want.role_name} is the execution role of {', '.join(others)} too: LIT does not change "
                "a role another function uses (its grants would change under it)",
                "pass --role ARN with a role of this function's own, or give the function another name",
            )
        if FUNCTION_TAG not in tags:
            steps.append(
                Step(
                    "iam",
                    "tag_role",
                    {"name": want.role_name, "tags": {FUNCTION_TAG: want.name}},
                    f"tag IAM role {want.role_name} as {want.name}'s",
                )
            )
    wanted = json.dumps(json.loads(want.policy), sort_keys=True)
    if existing is None or clients.iam.role_policy(want.role_name, POLICY_NAME) != wanted:
        steps.append(
            Step(
                "iam",
                "put_role_policy",
                {"role": want.role_name, "policy": POLICY_NAME, "document": want.policy},
                f"set role {want.role_name}'s policy (its logs; S3 and VPC only as lit.toml needs)",
            )
        )
    return role_arn, steps


def _wait(name: str) -> Step:
    return Step("lambda", "wait_ready", {"name": name}, f"wait for {name} to be Active with its update Successful")


def _code_steps(
    clients: Clients, want: Desired, role_arn: str, current: dict[str, Any] | None, alias_now: dict[str, Any] | None
) -> list[Step]:
    """Create or update $LATEST, publish it, move the alias: or only move the alias, when a version
    with this image and configuration exists (a deploy that stopped after publishing)."""
    name, alias = want.name, want.alias
    publish = [
        _wait(name),
        Step(
            "lambda",
            "publish_version",
            {"name": name, "code_sha": want.code_sha, "description": f"lit deploy {want.image_uri}"[:256]},
            f"publish a version of {name} (image {want.code_sha[:12]})",
        ),
        *_wait_version(want, PUBLISHED),
    ]
    if current is None:
        params = {
            "FunctionName": name,
            "PackageType": "Image",
            "Code": {"ImageUri": want.image_uri},
            "Role": role_arn,
            "MemorySize": want.memory,
            "Timeout": want.timeout,
            "EphemeralStorage": {"Size": want.ephemeral},
            "Environment": {"Variables": want.environment},
            "Architectures": [want.architecture],
            "Tags": want.tags,
            **({"VpcConfig": want.vpc} if want.subnets else {}),
            **({"SnapStart": {"ApplyOn": want.apply_on}} if want.snapstart else {}),
        }
        summary = f"{want.memory} MB, {want.timeout}s, {want.architecture}" + (", SnapStart" if want.snapstart else "")
        create = Step("lambda", "create_function", params, f"create function {name} from {want.image_uri} ({summary})")
        return [create, *publish, _alias_step(name, alias, PUBLISHED, False)]

    live = (alias_now or {}).get("FunctionVersion")
    versions = {v["Version"]: v for v in clients.lam.versions(name)}
    if live in versions and _matches(versions[live], want, role_arn):
        routed = rollout.routing(alias_now)
        if routed is None:
            return []  # the alias already serves this image and configuration
        other, weight = routed
        step = _alias_step(name, alias, str(live), True, reused=True)
        return [
            replace(
                step,
                description=f"{step.description}, taking back the {weight:.0%} a stopped rollout sent to version {other}",
            )
        ]
    reusable = sorted((int(v) for v, cfg in versions.items() if _matches(cfg, want, role_arn)), reverse=True)
    if reusable:
        version = str(reusable[0])  # a SnapStart version may still be Pending (a deploy stopped while it waited)
        return [*_wait_version(want, version), _alias_step(name, alias, version, alias_now is not None, reused=True)]
    cfg = current["Configuration"]
    steps: list[Step] = []
    if cfg.get("CodeSha256") != want.code_sha or cfg.get("Architectures", ["x86_64"]) != [want.architecture]:
        steps += [
            _wait(name),  # an update may be in progress (a deploy that stopped while it waited)
            Step(
                "lambda",
                "update_code",
                {"name": name, "image_uri": want.image_uri, "architecture": want.architecture},
                f"point {name} at {want.image_uri}",
            ),
        ]
    if changes := _config_diff(cfg, want, role_arn):
        steps += [
            _wait(name),
            Step(
                "lambda",
                "update_configuration",
                {"FunctionName": name, **changes},
                f"update {name}: {', '.join(sorted(changes))}",
            ),
        ]
    return [*steps, *publish, _alias_step(name, alias, PUBLISHED, alias_now is not None)]


def _wait_version(want: Desired, version: str) -> list[Step]:
    """A SnapStart version is Pending while Lambda initializes it and takes its snapshot: the alias
    moves only once it is Active, with its snapshot On (other versions are Active when published)."""
    if not want.snapstart:
        return []
    target = "the new version" if version == PUBLISHED else f"version {version}"
    return [
        Step(
            "lambda",
            "wait_version",
            {"name": want.name, "version": version, "snapstart": True},
            f"wait for {target} to be Active with its SnapStart snapshot On",
        )
    ]


def _alias_step(name: str, alias: str, version: str, exists: bool, reused: bool = False) -> Step:
    target = "the new version" if version == PUBLISHED else f"version {version}"
    why = " (already published with this image and configuration)" if reused else ""
    verb = "move" if exists else "create"
    return Step(
        "lambda",
        "set_alias",
        {"name": name, "alias": alias, "version": version, "exists": exists},
        f"{verb} alias {alias} -> {target}{why}",
    )


def _settings_steps(
    clients: Clients, want: Desired, current: dict[str, Any] | None, alias: dict[str, Any] | None
) -> list[Step]:
    """Tags and reserved concurrency (on the function); provisioned concurrency (on the alias)."""
    name = want.name
    steps: list[Step] = []
    if current is not None:
        have = current.get("Tags") or {}
        arn = ":".join(current["Configuration"]["FunctionArn"].split(":")[:7])  # without a qualifier
        if missing := {k: v for k, v in want.tags.items() if have.get(k) != v}:
            steps.append(
                Step("lambda", "tag", {"arn": arn, "tags": missing}, f"tag {name}: {', '.join(sorted(missing))}")
            )
        # tags lit.toml set before and no longer does; other tools' tags are not LIT's to remove
        if TAGS_TAG in want.tags and (dropped := sorted(set(have.get(TAGS_TAG, "").split()) - set(want.tags))):
            dropped = [k for k in dropped if k in have]
            if dropped:
                steps.append(
                    Step("lambda", "untag", {"arn": arn, "keys": dropped}, f"untag {name}: {', '.join(dropped)}")
                )
    reserved = None if current is None else (current.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    if want.reserved is not None and reserved != want.reserved:
        steps.append(
            Step(
                "lambda",
                "put_reserved_concurrency",
                {"name": name, "count": want.reserved},
                f"reserve {want.reserved} concurrent executions for {name}",
            )
        )
    elif want.reserved is None and reserved is not None:
        steps.append(
            Step("lambda", "delete_reserved_concurrency", {"name": name}, f"remove {name}'s reserved concurrency")
        )
    have_pc = None if alias is None else clients.lam.get_provisioned_concurrency(name, want.alias)
    if want.provisioned and have_pc != want.provisioned:
        monthly = prices.provisioned_monthly(want.provisioned, want.memory, want.architecture)
        steps.append(
            Step(
                "lambda",
                "put_provisioned_concurrency",
                {"name": name, "alias": want.alias, "count": want.provisioned},
                f"keep {want.provisioned} environment(s) initialized on {want.alias} (provisioned concurrency: "
                f"about ${monthly:,.2f} a month at {want.memory} MB {want.architecture}, before requests)",
            )
        )
    elif not want.provisioned and have_pc:
        steps.append(
            Step(
                "lambda",
                "delete_provisioned_concurrency",
                {"name": name, "alias": want.alias},
                f"remove the provisioned concurrency of {name}:{want.alias}",
            )
        )
    return steps


def plan(clients: Clients, want: Desired) -> Plan:
    """Read what exists and list the calls that make it what lit.toml wants (reads only)."""
    try:
        return _plan(clients, want)
    except KeyboardInterrupt:
        raise LitError(
            "interrupted while planning: nothing was changed", "run `lit deploy` again", exit_code=130
        ) from None
    except LitError as exc:
        raise LitError(exc.what, f"{exc.fix}; nothing was changed", exit_code=exc.exit_code) from None


def _plan(clients: Clients, want: Desired) -> Plan:
    role_arn, steps = _role_steps(clients, want)
    current = clients.lam.get_function(want.name)
    alias = None if current is None else clients.lam.get_alias(want.name, want.alias)
    code = _code_steps(clients, want, role_arn, current, alias)
    settings = _settings_steps(clients, want, current, alias)
    # Tags and reserved concurrency (not versioned) before a version is published and the alias
    # moves, so that a call Lambda refuses leaves the alias where it was; provisioned concurrency
    # (on the alias) once the alias is set.
    function_level = [s for s in settings if s.operation != "put_provisioned_concurrency"]
    alias_level = [s for s in settings if s.operation == "put_provisioned_concurrency"]
    split = next((i for i, s in enumerate(code) if s.operation in ("publish_version", "set_alias")), len(code))
    steps += code[:split] + function_level + code[split:] + alias_level
    if want.url_auth:
        url = None if alias is None else clients.lam.get_url(want.name, want.alias)
        if url is None:
            steps.append(
                Step(
                    "lambda",
                    "create_url",
                    {"name": want.name, "alias": want.alias, "auth": want.url_auth},
                    f"create a function URL on {want.alias} (auth {want.url_auth})",
                )
            )
        elif url.get("AuthType") != want.url_auth:
            steps.append(
                Step(
                    "lambda",
                    "update_url",
                    {"name": want.name, "alias": want.alias, "auth": want.url_auth},
                    f"set the function URL's auth to {want.url_auth}",
                )
            )
    return Plan(want.name, want.image_uri, want.alias, (alias or {}).get("FunctionVersion"), steps)


def execute(
    clients: Clients,
    steps: list[Step],
    log: Callable[[str], None],
    done: list[tuple[Step, Any]] | None = None,
    published: str | None = None,
) -> list[tuple[Step, Any]]:
    """Run the steps in order, each one call; returns (and appends to `done` as they finish) each
    step with what it returned. Unknown operations are refused before anything runs. A PUBLISHED
    parameter is the version published by an earlier step (or `published`, by an earlier part)."""
    for step in steps:
        if step.operation not in OPERATIONS.get(step.service, frozenset()):
            raise LitError(f"unknown step {step.service}.{step.operation}", "a bug in LIT's planner: please report it")
        clients.client(step.service)
    done = [] if done is None else done
    version = published
    for step in steps:
        log(f"- {step.description}")
        method = getattr(clients.client(step.service), step.operation)
        params = {k: (version if v == PUBLISHED else v) for k, v in step.params.items()}
        if step.operation in ("wait_ready", "wait_version"):
            params["progress"] = log
        result = method(**params)
        if step.operation == "publish_version":
            version = str(result)
        done.append((step, result))
    return done


@dataclass
class DeployResult:
    function: str
    image_uri: str
    alias: str
    version: str | None
    url: str | None
    changed: bool
    steps: list[str]
    gate: dict[str, Any] | None = None  # the gate's figures, when one was passed
    rollout: list[dict[str, Any]] | None = None  # each watched step's figures


def deploy(
    clients: Clients,
    p: Plan,
    log: Callable[[str], None],
    gate: Callable[[str, str | None], Any] | None = None,
    shift: Callable[[str, str], Any] | None = None,
) -> DeployResult:
    """Execute the plan. If it stops part-way (an AWS error, Ctrl-C), say what is live and what is left.
    `gate` (candidate version, live version) runs just before the alias moves; when it raises, the
    alias stays where it was. `shift` (live version, candidate) moves an existing alias in its
    place: a watched rollout, which moves it back when the candidate is unhealthy."""
    done: list[tuple[Step, Any]] = []
    move = next((i for i, s in enumerate(p.steps) if s.operation == "set_alias"), len(p.steps))
    try:
        execute(clients, p.steps[:move], log, done)
        published = next((str(r) for s, r in done if s.operation == "publish_version"), None)
        rest = p.steps[move:]
        if rest:
            target = str(published if rest[0].params["version"] == PUBLISHED else rest[0].params["version"])
            if gate is not None:
                gate(target, p.live_version)
            if shift is not None and p.live_version and p.live_version != target:
                shifted = shift(p.live_version, target)
                done.append((rest[0], shifted))
                rest = rest[1:]
        execute(clients, rest, log, done, published)
        url = next((str(r) for s, r in done if s.operation == "create_url"), None)
        alias = clients.lam.get_alias(p.function, p.alias)
        found_url = clients.lam.get_url(p.function, p.alias) if url is None and alias else None
    except KeyboardInterrupt:
        # the interrupt may land between a call's answer and its record: ask where the alias is
        now = clients.lam.get_alias(p.function, p.alias) or {}
        if (routed := rollout.routing(now)) is not None:
            raise LitError(
                f"interrupted during the rollout: alias {p.alias} is on version {now['FunctionVersion']} with "
                f"{routed[1]:.0%} of its traffic to version {routed[0]}",
                f"run `lit deploy` again to roll out again, or `lit rollback` to send all traffic to version "
                f"{now['FunctionVersion']}",
                exit_code=130,
            ) from None
        live = now.get("FunctionVersion")
        raise LitError(f"interrupted: {_left(p, done, live)}", "run `lit deploy` again", exit_code=130) from None
    except rollout.RolledBack:
        raise
    except Refused as exc:
        where = _left(p, done).split("; not done:")[0]
        raise Refused(f"{exc.what}; {where}", exc.fix) from None
    except LitError as exc:
        raise LitError(exc.what, f"{exc.fix}; then {_left(p, done)}", exit_code=exc.exit_code) from None
    return DeployResult(
        p.function,
        p.image_uri,
        p.alias,
        (alias or {}).get("FunctionVersion"),
        url or (found_url or {}).get("FunctionUrl"),
        p.changes,
        [s.description for s in p.steps],
    )


def dry_run_text(p: Plan, gate: Any = None, shift: Any = None) -> str:
    """What `lit deploy --dry-run` prints: the gate and the rollout when the alias would move, then each call."""
    moves = any(s.operation == "set_alias" for s in p.steps)
    said = []
    if moves and gate is not None:
        said.append(f"would evaluate the new version on {gate.data} (the gate) before moving the alias")
    if moves and shift is not None and p.live_version:
        said.append(f"would roll the new version out to alias {p.alias}: {shift.describe()}, watched")
    said += [f"would {s.description}\n    {s.call}" for s in p.steps]
    return "\n".join(said) or "nothing to do: the function is up to date"


def release(
    clients: Clients,
    p: Plan,
    log: Callable[[str], None],
    gate: Any = None,
    shift: tuple[rollout.Policy, rollout.Thresholds] | None = None,
    metrics: Callable[[], Any] | None = None,
) -> DeployResult:
    """`deploy` with the gate (a gate.Gate) checked before the alias moves, and the alias moved by a
    watched rollout when `shift` asks (CloudWatch's figures from `metrics()`)."""
    from . import gate as gates

    passed: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []

    def check(candidate: str, live: str | None) -> None:
        passed.update(gates.check(clients.lam, p.function, candidate, live, gate, log))

    def roll(old: str, new: str) -> None:
        assert shift is not None and metrics is not None
        policy, limits = shift
        log(f"- roll version {new} out to alias {p.alias}: {policy.describe()}")
        steps.extend(rollout.run(clients.lam, metrics(), p.function, p.alias, old, new, policy, limits, log))

    result = deploy(clients, p, log, check if gate is not None else None, roll if shift is not None else None)
    result.gate, result.rollout = passed or None, steps or None
    return result


def invoke(clients: Clients, name: str, alias: str, body: bytes) -> dict[str, Any]:
    """One synchronous invoke of the alias: its status, its answer (JSON where it is) and whether it failed."""
    from .local import parse_payload

    code, payload, function_error = clients.lam.invoke(name, alias, body)
    return {"status": code, "payload": parse_payload(payload), "function_error": function_error}


def _left(p: Plan, done: list[tuple[Step, Any]], live: str | None = None) -> str:
    """Where the alias is and which steps were not done; `live` is the alias's version as read
    after the stop, when it was read (it wins over what the finished steps imply)."""
    finished = [s for s, _ in done]
    published = next((str(r) for s, r in done if s.operation == "publish_version"), None)
    moved = next((s for s in finished if s.operation == "set_alias"), None)
    if live is not None and live != p.live_version:
        where = f"alias {p.alias} is on version {live}"
        moved = moved or next((s for s in p.steps if s.operation == "set_alias"), None)
        finished = p.steps[: p.steps.index(moved) + 1] if moved is not None else finished
    elif moved is not None:
        version = published if moved.params["version"] == PUBLISHED else moved.params["version"]
        where = f"alias {p.alias} is on version {version}"
    elif p.live_version:
        where = f"alias {p.alias} still on version {p.live_version}"
    else:
        where = f"alias {p.alias} not created yet"
    if published and moved is None:
        where += f" (version {published} was published, not yet live)"
    rest = [s.description for s in p.steps[len(finished) :]]
    todo = f"; not done: {'; '.join(rest)}" if rest else ""
    return f"{where}{todo}; run `lit deploy` again"


@dataclass
class Status:
    function: str
    state: str
    last_update: str
    image_uri: str
    resolved_image_uri: str | None
    alias: str
    alias_version: str | None
    alias_description: str | None
    versions: list[str]
    url: str | None
    url_auth: str | None
    reserved_concurrency: int | None
    provisioned_concurrency: int | None
    role: str = ""
    problems: list[str] = field(default_factory=list)  # what is missing or wrong, each with what to run
    snapstart: str = SNAPSTART_OFF  # the function's SnapStart ApplyOn: PublishedVersions | None
    snapstart_optimization: str | None = None  # the alias version's snapshot: On | Off (None: no alias)
    routing: dict[str, float] | None = None  # a rollout's weights on the alias: {version: share}

    def text(self) -> str:
        on = f"-> version {self.alias_version}" if self.alias_version else "missing"
        lines = [
            f"{self.function}: {self.state}, last update {self.last_update}",
            f"image: {self.image_uri}",
            f"role: {self.role}",
            f"alias {self.alias} {on} (versions: {', '.join(self.versions) or 'none'})",
        ]
        if self.alias_description:
            lines.append(f"  {self.alias_description}")
        if self.url:
            lines.append(f"url: {self.url} (auth {self.url_auth})")
        if self.reserved_concurrency is not None:
            lines.append(f"reserved concurrency: {self.reserved_concurrency}")
        if self.provisioned_concurrency:
            lines.append(f"provisioned concurrency on {self.alias}: {self.provisioned_concurrency}")
        lines += [
            f"rollout: {share:.0%} of {self.alias}'s traffic goes to version {v} (`lit deploy` rolls out again, "
            "`lit rollback` sends it all back)"
            for v, share in (self.routing or {}).items()
        ]
        snapshot = (
            f" (version {self.alias_version}'s snapshot: {self.snapstart_optimization})" if self.alias_version else ""
        )
        lines.append(f"snapstart: {self.snapstart}{snapshot}")
        return "\n".join(lines)


def status(clients: Clients, name: str, alias: str, policy: str | None = None) -> Status:
    """The deployed function as AWS reports it, and its problems: a missing alias, a missing
    execution role, or (given `policy`, the grants lit.toml needs) a LIT role without them."""
    fn = clients.lam.get_function(name)
    if fn is None:
        raise AwsError(f"function {name} does not exist in {clients.region}", "deploy it with `lit deploy`")
    cfg = fn["Configuration"]
    a = clients.lam.get_alias(name, alias)
    url = clients.lam.get_url(name, alias) if a else None
    versions = clients.lam.versions(name)
    live: dict[str, Any] = next((v for v in versions if a and v["Version"] == a["FunctionVersion"]), {})
    role = str(cfg.get("Role", "")).rsplit("/", 1)[-1]
    problems = []
    if a is None:
        problems.append(f"alias {alias} is missing: callers of {name}:{alias} get errors; run `lit deploy`")
    if clients.iam.role_arn(role) is None:
        problems.append(
            f"execution role {role} is missing: the function fails at its next cold start; run `lit deploy` "
            "(with the same --role if you gave one)"
        )
    elif policy is not None and role == role_name(name):
        wanted = json.dumps(json.loads(policy), sort_keys=True)
        if clients.iam.role_policy(role, POLICY_NAME) != wanted:
            problems.append(f"role {role} does not hold the grants lit.toml needs; run `lit deploy`")
    if a is not None and url is None and (auth := (fn.get("Tags") or {}).get(URL_TAG)):
        problems.append(
            f"the function URL of {name}:{alias} is missing (it was deployed with one); "
            f"run `lit deploy --url{' --url-auth NONE' if auth == 'NONE' else ''}`"
        )
    return Status(
        name,
        cfg.get("State", "?"),
        cfg.get("LastUpdateStatus", "?"),
        fn.get("Code", {}).get("ImageUri", ""),
        fn.get("Code", {}).get("ResolvedImageUri"),
        alias,
        (a or {}).get("FunctionVersion"),
        live.get("Description"),
        [v["Version"] for v in versions],
        (url or {}).get("FunctionUrl"),
        (url or {}).get("AuthType"),
        (fn.get("Concurrency") or {}).get("ReservedConcurrentExecutions"),
        clients.lam.get_provisioned_concurrency(name, alias) if a else None,
        role,
        problems,
        apply_on(cfg),
        (live.get("SnapStart") or {}).get("OptimizationStatus", "Off") if live else None,
        dict([routed]) if (routed := rollout.routing(a)) else None,
    )


def rollback(clients: Clients, name: str, alias: str, to: str | None = None) -> tuple[str, str]:
    """Move the alias to the version before the one it is on (or to `to`); returns (from, to)."""
    a = clients.lam.get_alias(name, alias)
    if a is None:
        raise AwsError(f"{name} has no alias {alias}", "deploy it first with `lit deploy`")
    current = a["FunctionVersion"]
    versions = sorted(int(v["Version"]) for v in clients.lam.versions(name))
    if to is None and (routed := rollout.routing(a)) is not None:
        # a rollout stopped part-way: undone, all traffic back on the version the alias is on
        execute(clients, [_alias_step(name, alias, current, True)], lambda _: None)
        return f"{current} with {routed[1]:.0%} to version {routed[0]}", current
    if to is None:
        older = [v for v in versions if v < int(current)]
        if not older:
            raise LitError(f"{name}:{alias} is on version {current}, the oldest there is", "nothing to roll back to")
        to = str(older[-1])
    elif not to.isdigit() or int(to) not in versions:
        raise LitError(f"{name} has no version {to}", f"pick one of {', '.join(map(str, versions))}")
    execute(clients, [_alias_step(name, alias, to, True)], lambda _: None)
    return current, to


def destroy_plan(
    clients: Clients, project: Project, alias: str, repository: bool, kept: list[str] | None = None
) -> list[Step]:
    """The deletions `lit destroy` makes; what it leaves in place on purpose is appended to `kept`."""
    steps: list[Step] = []
    kept = [] if kept is None else kept
    name = project.name
    if clients.lam.get_function(name) is not None:
        if clients.lam.get_alias(name, alias) is not None and clients.lam.get_url(name, alias) is not None:
            steps.append(
                Step(
                    "lambda", "delete_url", {"name": name, "alias": alias}, f"delete the function URL of {name}:{alias}"
                )
            )
        steps.append(
            Step("lambda", "delete_function", {"name": name}, f"delete function {name} (all versions and aliases)")
        )
    role = role_name(name)
    arn = clients.iam.role_arn(role)
    tags = clients.iam.role_tags(role) if arn is not None else {}
    if arn is not None and tags.get(MANAGED_TAG) == "true":
        others = role_users(clients, arn, tags, name)
        if others:
            kept.append(f"kept IAM role {role}: it is the execution role of {', '.join(others)} too")
        else:
            steps.append(Step("iam", "delete_role", {"name": role}, f"delete IAM role {role} (created by LIT)"))
    if repository and clients.ecr is not None and clients.ecr.find_repository(project.image_repo) is not None:
        steps.append(
            Step(
                "ecr",
                "delete_repository",
                {"name": project.image_repo},
                f"delete ECR repository {project.image_repo} and its images",
            )
        )
    return steps
