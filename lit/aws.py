"""Clients for AWS: one typed class per service, handed a boto3 session (never made at import).

boto3 honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, which is how tests point these at
moto server. Every botocore error becomes an AwsError that says where, what and what to do.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import policy
from .errors import AwsError

FIXES = {
    "AccessDenied": "grant this identity the permission named above (or use another profile)",
    "AccessDeniedException": "grant this identity the permission named above (or use another profile)",
    "UnrecognizedClientException": "check your AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID)",
    "InvalidClientTokenId": "check your AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "check your AWS credentials: the secret access key does not match the key id",
    "InvalidSignatureException": "check your AWS credentials: the secret access key does not match the key id",
    "InvalidAccessKeyId": "check your AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID)",
    "ExpiredToken": "refresh your AWS credentials",
    "ExpiredTokenException": "refresh your AWS credentials",
    "NoSuchBucket": "create the bucket first, or fix its name",
    "RepositoryNotFoundException": "push the image first with `lit push`",
    "ImageNotFoundException": "push the image first with `lit push`",
    "ResourceNotFoundException": "deploy it first with `lit deploy`",
    "InvalidParameterValueException": "fix the value AWS names above",
    "ResourceConflictException": "wait for the function's update in progress to finish, then re-run",
    "TooManyRequestsException": "wait a moment and re-run",
    "ServiceException": "AWS failed on its side: run the command again in a moment",
    "ServiceUnavailableException": "AWS failed on its side: run the command again in a moment",
}


T = TypeVar("T")


def session(region: str | None = None, profile: str | None = None) -> Any:
    """A boto3 session; a profile that is nowhere (AWS_PROFILE, or `profile`) is an AwsError."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        sess = boto3.session.Session(region_name=region, profile_name=profile)
        sess.region_name  # noqa: B018  (reads the profile's config: a missing profile fails here)
    except ProfileNotFound as exc:
        raise AwsError(
            f"{exc}: it is in neither ~/.aws/config nor ~/.aws/credentials (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)",
            "set AWS_PROFILE to a profile that exists (`aws configure list-profiles`), or unset it",
        ) from None
    return sess


def client(sess: Any, service: str) -> Any:
    """A boto3 client; a missing region or a bad endpoint is an AwsError, not a traceback."""
    with calling(f"connecting to {service}"):
        return sess.client(service)


_XML_CODE = re.compile(r"<Code>([^<]+)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def translate(exc: Exception, where: str) -> AwsError:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return AwsError(
            f"{where}: no AWS credentials found", "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return AwsError(f"{where}: no AWS region set", "pass --region or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return AwsError(
            f"{where}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}", "check the region name and the network"
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if message.lstrip().startswith("<"):  # an XML or HTML body where JSON was due (a proxy, a stand-in)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", code)
            found_code, found_message = _XML_CODE.search(message), _XML_MESSAGE.search(message)
            code = found_code.group(1) if found_code else code
            message = found_message.group(1) if found_message else f"HTTP {status} with a non-JSON body"
        error = AwsError(f"{where}: {code}: {message}".strip(": "), FIXES.get(code, "see AWS's message above"))
        error.code = code
        return error
    return AwsError(f"{where}: {type(exc).__name__}: {exc}", "see the message above")


@contextmanager
def calling(where: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc, where) from None


def or_none(where: str, call: Callable[[], T], *missing: str) -> T | None:
    """call(), or None when AWS answers one of the `missing` error codes (the thing isn't there)."""
    try:
        with calling(where):
            return call()
    except AwsError as exc:
        if exc.code in missing:
            return None
        raise


class STSClient:
    """Whose credentials these are. `quick`: one attempt, 3 s timeouts (for `lit doctor`, offline-safe)."""

    def __init__(self, sess: Any, quick: bool = False) -> None:
        from botocore.config import Config

        config = Config(connect_timeout=3, read_timeout=3, retries={"max_attempts": 1}) if quick else None
        with calling("connecting to sts"):
            self._sts = sess.client("sts", config=config, region_name=sess.region_name or "us-east-1")

    def identity(self) -> dict[str, str]:
        """get-caller-identity: Account, Arn, UserId."""
        with calling("checking AWS credentials (sts get-caller-identity)"):
            return dict(self._sts.get_caller_identity())


class S3Client:
    def __init__(self, sess: Any) -> None:
        self._s3 = client(sess, "s3")

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        with calling(f"uploading s3://{bucket}/{key}"):
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes; None when there is none."""
        found = or_none(
            f"reading s3://{bucket}/{key}", lambda: self._s3.get_object(Bucket=bucket, Key=key), "NoSuchKey"
        )
        return None if found is None else bytes(found["Body"].read())

    def download(self, bucket: str, key: str, dest: Path) -> None:
        """The object streamed into a file (an archive may be larger than memory should hold)."""
        where = f"reading s3://{bucket}/{key}"
        found = or_none(where, lambda: self._s3.head_object(Bucket=bucket, Key=key), "404", "NoSuchKey", "NotFound")
        if found is None:
            raise AwsError(f"{where}: there is no such object", "check the bucket and key (aws s3 ls)")
        with calling(where), dest.open("wb") as out:
            self._s3.download_fileobj(bucket, key, out)

    def keys(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        """The objects under the prefix (Key, Size, LastModified), every page."""
        found: list[dict[str, Any]] = []
        with calling(f"listing s3://{bucket}/{prefix}"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                found += page.get("Contents", [])
        return found


@dataclass(frozen=True)
class RegistryLogin:
    host: str
    username: str
    password: str


NO_ROUTING: dict[str, Any] = {"AdditionalVersionWeights": {}}


class LogsClient:
    def __init__(self, sess: Any) -> None:
        self._logs = client(sess, "logs")

    def pages(
        self, group: str, start_ms: int | None, end_ms: int | None, pattern: str | None
    ) -> Iterator[list[dict[str, Any]]]:
        """The group's events in the time range (matching the filter pattern), a page at a time as
        CloudWatch answers, each page in time order."""
        kwargs: dict[str, Any] = {"logGroupName": group}
        if start_ms is not None:
            kwargs["startTime"] = start_ms
        if end_ms is not None:
            kwargs["endTime"] = end_ms
        if pattern:
            kwargs["filterPattern"] = pattern
        pages = iter(self._logs.get_paginator("filter_log_events").paginate(**kwargs))
        while True:
            with calling(f"reading CloudWatch Logs group {group}"):  # each page is one call
                page = next(pages, None)
            if page is None:
                return
            yield sorted(page.get("events", []), key=lambda e: (e["timestamp"], e.get("eventId", "")))


class MetricsClient:
    """CloudWatch metrics: Lambda's own per executed version (AWS/Lambda), and LIT's EMF metrics."""

    def __init__(self, sess: Any) -> None:
        self._cw = client(sess, "cloudwatch")

    def figures(
        self, queries: dict[str, tuple[str, str, dict[str, str], str]], start: Any, end: Any
    ) -> dict[str, float | None]:
        """For each id: (namespace, metric, dimensions, statistic) over [start, end) in one period;
        None where CloudWatch has no datapoint (no traffic)."""
        seconds = max(60, -(-int((end - start).total_seconds()) // 60) * 60)
        spec = [
            {
                "Id": key,
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": seconds,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for key, (namespace, metric, dims, stat) in queries.items()
        ]
        found: dict[str, float | None] = dict.fromkeys(queries)
        with calling("reading CloudWatch metrics"):
            for page in self._cw.get_paginator("get_metric_data").paginate(
                MetricDataQueries=spec, StartTime=start, EndTime=end
            ):
                for result in page.get("MetricDataResults", []):
                    values = result.get("Values") or []
                    if values:
                        stat = queries[result["Id"]][3]
                        found[result["Id"]] = max(values) if stat.startswith("p") else sum(values)
        return found


class ECRClient:
    def __init__(self, sess: Any) -> None:
        self._ecr = client(sess, "ecr")

    def find_repository(self, name: str) -> str | None:
        repos = or_none(
            f"looking up ECR repository {name}",
            lambda: self._ecr.describe_repositories(repositoryNames=[name])["repositories"],
            "RepositoryNotFoundException",
        )
        return str(repos[0]["repositoryUri"]) if repos else None

    def create_repository(self, name: str, keep: int) -> str:
        with calling(f"creating ECR repository {name}"):
            uri = self._ecr.create_repository(
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": True},
                imageTagMutability="MUTABLE",
                tags=[{"Key": "lit:managed", "Value": "true"}],
            )["repository"]["repositoryUri"]
            self._ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=lifecycle_policy(keep))
        return str(uri)

    def login(self) -> RegistryLogin:
        with calling("getting an ECR authorization token"):
            data = self._ecr.get_authorization_token()["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        host = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://").rstrip("/")
        return RegistryLogin(host, user, password)

    def delete_repository(self, name: str) -> None:
        with calling(f"deleting ECR repository {name}"):
            self._ecr.delete_repository(repositoryName=name, force=True)


def lifecycle_policy(keep: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the last {keep} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                    "action": {"type": "expire"},
                }
            ]
        }
    )


LAMBDA_TRUST = json.dumps(policy.TRUST)


class IAMClient:
    def __init__(self, sess: Any) -> None:
        self._iam = client(sess, "iam")

    def role_arn(self, name: str) -> str | None:
        role = or_none(f"looking up IAM role {name}", lambda: self._iam.get_role(RoleName=name)["Role"], "NoSuchEntity")
        return str(role["Arn"]) if role else None

    def role_policy(self, role: str, policy: str) -> str | None:
        doc = or_none(
            f"reading policy {policy} of role {role}",
            lambda: self._iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"],
            "NoSuchEntity",
        )
        if doc is None:
            return None
        return json.dumps(doc, sort_keys=True) if isinstance(doc, dict) else json.dumps(json.loads(doc), sort_keys=True)

    def create_role(self, name: str, function: str) -> str:
        """A Lambda execution role, tagged as LIT's and as the role of `function`."""
        with calling(f"creating IAM role {name}"):
            return str(
                self._iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=LAMBDA_TRUST,
                    Description=f"Execution role of Lambda function {function}, created by LIT",
                    Tags=[{"Key": "lit:managed", "Value": "true"}, {"Key": "lit:function", "Value": function}],
                )["Role"]["Arn"]
            )

    def role_tags(self, name: str) -> dict[str, str]:
        with calling(f"reading tags of role {name}"):
            return {t["Key"]: t["Value"] for t in self._iam.list_role_tags(RoleName=name).get("Tags", [])}

    def tag_role(self, name: str, tags: dict[str, str]) -> None:
        with calling(f"tagging role {name}"):
            self._iam.tag_role(RoleName=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def put_role_policy(self, role: str, policy: str, document: str) -> None:
        with calling(f"writing policy {policy} of role {role}"):
            self._iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=document)

    def managed_by_lit(self, name: str) -> bool:
        return self.role_tags(name).get("lit:managed") == "true"

    def delete_role(self, name: str) -> None:
        with calling(f"deleting IAM role {name}"):
            for policy in self._iam.list_role_policies(RoleName=name).get("PolicyNames", []):
                self._iam.delete_role_policy(RoleName=name, PolicyName=policy)
            self._iam.delete_role(RoleName=name)


class LambdaClient:
    def __init__(
        self, sess: Any, sleep: Callable[[float], None] = time.sleep, delay: float = 2.0, attempts: int = 150
    ) -> None:
        self._lambda = client(sess, "lambda")
        self._sleep = sleep
        self._delay = delay
        self._attempts = attempts

    def functions_tagged(self, key: str, value: str) -> list[str]:
        """The functions (of this account and region) that carry the tag key=value."""
        names: list[str] = []
        with calling("listing functions and their tags"):
            for page in self._lambda.get_paginator("list_functions").paginate():
                for f in page.get("Functions", []):
                    if self._lambda.list_tags(Resource=f["FunctionArn"]).get("Tags", {}).get(key) == value:
                        names.append(f["FunctionName"])
        return names

    def functions_using(self, role_arn: str) -> list[str]:
        """The functions (of this account and region) whose execution role is `role_arn`."""
        names: list[str] = []
        with calling("listing functions"):
            for page in self._lambda.get_paginator("list_functions").paginate():
                names += [f["FunctionName"] for f in page.get("Functions", []) if f.get("Role") == role_arn]
        return names

    def get_function(self, name: str, qualifier: str | None = None) -> dict[str, Any] | None:
        kwargs = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        return or_none(
            f"reading function {name}", lambda: dict(self._lambda.get_function(**kwargs)), "ResourceNotFoundException"
        )

    def create_function(self, **params: Any) -> dict[str, Any]:
        with calling(f"creating function {params['FunctionName']}"):
            return dict(self._retry_role(lambda: self._lambda.create_function(**params)))

    def update_code(self, name: str, image_uri: str, architecture: str) -> None:
        with calling(f"updating the code of {name}"):
            self._lambda.update_function_code(FunctionName=name, ImageUri=image_uri, Architectures=[architecture])

    def update_configuration(self, **params: Any) -> None:
        with calling(f"updating the configuration of {params['FunctionName']}"):
            self._retry_role(lambda: self._lambda.update_function_configuration(**params))

    def _retry_role(self, call: Callable[[], Any]) -> Any:
        """A new role takes seconds to become assumable by Lambda: retry that one error, bounded."""
        for attempt in range(6):
            try:
                return call()
            except Exception as exc:
                message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
                if attempt == 5 or "cannot be assumed" not in message:
                    raise
                self._sleep(2 * (attempt + 1))
        return None

    def wait_ready(self, name: str, progress: Callable[[str], None]) -> dict[str, Any]:
        """Wait for State Active and LastUpdateStatus Successful; fail on Failed or on timeout."""
        for _ in range(self._attempts):
            with calling(f"reading the state of {name}"):
                config = self._lambda.get_function_configuration(FunctionName=name)
            state, update = config.get("State"), config.get("LastUpdateStatus", "Successful")
            if state == "Failed" or update == "Failed":
                reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or "no reason given"
                raise AwsError(
                    f"function {name} is {state}, last update {update}: {reason}",
                    "fix the cause above (image, role, configuration) and deploy again; the alias was not moved",
                )
            if state == "Active" and update == "Successful":
                return dict(config)
            progress(f"waiting for {name}: state {state}, last update {update}")
            self._sleep(self._delay)
        raise AwsError(
            f"function {name} did not become Active/Successful within {self._attempts * self._delay:.0f}s",
            "check the function in the Lambda console; the alias was not moved",
        )

    def wait_version(self, name: str, version: str, snapstart: bool, progress: Callable[[str], None]) -> dict[str, Any]:
        """Wait for a published version to be Active (with SnapStart: its snapshot On; Lambda keeps it
        Pending while it initializes the function and takes the snapshot); fail on Failed or timeout."""
        where = f"{name}:{version}"
        for _ in range(self._attempts):
            with calling(f"reading the state of {where}"):
                config = self._lambda.get_function_configuration(FunctionName=name, Qualifier=version)
            state = config.get("State")
            optimization = (config.get("SnapStart") or {}).get("OptimizationStatus", "Off")
            if state == "Failed":
                code = config.get("StateReasonCode") or "no reason code"
                reason = config.get("StateReason") or "no reason given"
                raise AwsError(
                    f"version {where} is Failed ({code}): {reason}",
                    "fix the cause above (for SnapStart: the image must implement the restore lifecycle or carry "
                    'LABEL com.amazonaws.lambda.feature.snapstart="Allow"; its init must succeed) and deploy again; '
                    "the alias was not moved",
                )
            if state == "Active" and (optimization == "On" or not snapstart):
                return dict(config)
            progress(f"waiting for {where}: state {state}" + (f", SnapStart {optimization}" if snapstart else ""))
            self._sleep(self._delay)
        raise AwsError(
            f"version {where} did not become Active within {self._attempts * self._delay:.0f}s",
            "check the version in the Lambda console; the alias was not moved",
        )

    def publish_version(self, name: str, code_sha: str, description: str) -> str:
        with calling(f"publishing a version of {name}"):
            return str(
                self._lambda.publish_version(FunctionName=name, CodeSha256=code_sha, Description=description)["Version"]
            )

    def versions(self, name: str) -> list[dict[str, Any]]:
        with calling(f"listing versions of {name}"):
            pages = self._lambda.get_paginator("list_versions_by_function").paginate(FunctionName=name)
            return [v for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]

    def get_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        return or_none(
            f"reading alias {alias} of {name}",
            lambda: dict(self._lambda.get_alias(FunctionName=name, Name=alias)),
            "ResourceNotFoundException",
        )

    def set_alias(self, name: str, alias: str, version: str, exists: bool) -> None:
        """All of the alias's traffic to `version` (a rollout's weights, when there are any, go)."""
        with calling(f"pointing alias {alias} of {name} at version {version}"):
            if exists:
                self._lambda.update_alias(
                    FunctionName=name, Name=alias, FunctionVersion=version, RoutingConfig=NO_ROUTING
                )
            else:
                self._lambda.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)

    def route(self, name: str, alias: str, version: str, extra: str, weight: float) -> None:
        """The alias on `version`, with the share `weight` of its traffic to `extra` (weighted alias routing)."""
        with calling(f"sending {weight:.0%} of alias {alias} of {name} to version {extra}"):
            self._lambda.update_alias(
                FunctionName=name,
                Name=alias,
                FunctionVersion=version,
                RoutingConfig={"AdditionalVersionWeights": {extra: round(weight, 5)}},
            )

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with calling(f"tagging {arn}"):
            self._lambda.tag_resource(Resource=arn, Tags=tags)

    def untag(self, arn: str, keys: list[str]) -> None:
        with calling(f"untagging {arn}"):
            self._lambda.untag_resource(Resource=arn, TagKeys=keys)

    def account_concurrency(self) -> tuple[int, int]:
        """The account's concurrency limit in this region, and how much of it no function reserves."""
        with calling("reading the account's Lambda settings"):
            limit = self._lambda.get_account_settings()["AccountLimit"]
        return int(limit["ConcurrentExecutions"]), int(limit["UnreservedConcurrentExecutions"])

    def put_reserved_concurrency(self, name: str, count: int) -> None:
        with calling(f"reserving concurrency for {name}"):
            self._lambda.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=count)

    def delete_reserved_concurrency(self, name: str) -> None:
        with calling(f"removing the reserved concurrency of {name}"):
            self._lambda.delete_function_concurrency(FunctionName=name)

    def get_provisioned_concurrency(self, name: str, alias: str) -> int | None:
        found = or_none(
            f"reading the provisioned concurrency of {name}:{alias}",
            lambda: self._lambda.get_provisioned_concurrency_config(FunctionName=name, Qualifier=alias),
            "ProvisionedConcurrencyConfigNotFoundException",
            "ResourceNotFoundException",
        )
        return None if found is None else int(found["RequestedProvisionedConcurrentExecutions"])

    def put_provisioned_concurrency(self, name: str, alias: str, count: int) -> None:
        with calling(f"setting the provisioned concurrency of {name}:{alias}"):
            self._lambda.put_provisioned_concurrency_config(
                FunctionName=name, Qualifier=alias, ProvisionedConcurrentExecutions=count
            )

    def delete_provisioned_concurrency(self, name: str, alias: str) -> None:
        with calling(f"removing the provisioned concurrency of {name}:{alias}"):
            self._lambda.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=alias)

    def get_url(self, name: str, alias: str) -> dict[str, Any] | None:
        return or_none(
            f"reading the function URL of {name}:{alias}",
            lambda: dict(self._lambda.get_function_url_config(FunctionName=name, Qualifier=alias)),
            "ResourceNotFoundException",
        )

    def create_url(self, name: str, alias: str, auth: str) -> str:
        with calling(f"creating the function URL of {name}:{alias}"):
            url = self._lambda.create_function_url_config(FunctionName=name, Qualifier=alias, AuthType=auth)[
                "FunctionUrl"
            ]
            if auth == "NONE":  # a public URL also needs a resource policy allowing anyone to call it
                self._lambda.add_permission(
                    FunctionName=name,
                    Qualifier=alias,
                    StatementId="lit-public-url",
                    Action="lambda:InvokeFunctionUrl",
                    Principal="*",
                    FunctionUrlAuthType="NONE",
                )
        return str(url)

    def update_url(self, name: str, alias: str, auth: str) -> None:
        with calling(f"updating the function URL of {name}:{alias}"):
            self._lambda.update_function_url_config(FunctionName=name, Qualifier=alias, AuthType=auth)

    def delete_url(self, name: str, alias: str) -> None:
        with calling(f"deleting the function URL of {name}:{alias}"):
            self._lambda.delete_function_url_config(FunctionName=name, Qualifier=alias)

    def delete_function(self, name: str) -> None:
        with calling(f"deleting function {name}"):
            self._lambda.delete_function(FunctionName=name)

    def invoke(self, name: str, alias: str, payload: bytes) -> tuple[int, bytes, str | None]:
        with calling(f"invoking {name}:{alias}"):
            resp = self._lambda.invoke(FunctionName=name, Qualifier=alias, Payload=payload)
        return int(resp["StatusCode"]), resp["Payload"].read(), resp.get("FunctionError")
