"""`lit template`: a SAM template for teams that deploy with CloudFormation.

The function as `lit deploy` makes it: its name, PackageType Image (by digest), memory, timeout,
storage, environment, architecture, SnapStart, reserved and provisioned concurrency, tags and VPC from
lit.toml, an execution role granting exactly what `lit deploy`'s does (lit/policy.py), the alias
(AutoPublishAlias), and either a function
URL or an API Gateway REST API described in OpenAPI (binary image/* bodies allowed). JSON, which
CloudFormation and `sam deploy` read as they read YAML.
"""

from __future__ import annotations

import json
from typing import Any

from . import policy, rollout
from .project import Project


def role(project: Project) -> dict[str, Any]:
    """The function's execution role, granting what `lit deploy`'s role grants (lit/policy.py), no more."""
    doc = policy.document(project, "${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}")
    for statement in doc["Statement"]:
        if "${" in statement["Resource"]:
            statement["Resource"] = {"Fn::Sub": statement["Resource"]}
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": policy.TRUST,
            "Policies": [{"PolicyName": policy.NAME, "PolicyDocument": doc}],
            "Tags": [{"Key": "lit:managed", "Value": "true"}, {"Key": "lit:function", "Value": project.name}],
        },
    }


# The request bodies each input kind takes besides JSON (as lit_runtime.contract states them), and
# the answers that are binary: API Gateway passes these through as bytes only when named.
RAW_BODIES = {"image": "image/*", "tensor": "application/x-npy", "text": "text/plain", "body": "*/*"}
BINARY_ANSWERS = ["application/x-npy", "application/x-npz"]


def binary_media_types(input_kind: str) -> list[str]:
    return sorted({*BINARY_ANSWERS, *([RAW_BODIES[input_kind]] if input_kind != "text" else [])})


def openapi(path: str, alias: str, input_kind: str = "image") -> dict[str, Any]:
    target = "${Function.Arn}:" + alias  # the alias, so traffic follows `AutoPublishAlias`
    integration = {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": {
            "Fn::Sub": f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/{target}/invocations"
        },
    }
    raw = {"type": "string"} if input_kind == "text" else {"type": "string", "format": "binary"}
    body = {"application/json": {"schema": {"type": "object"}}, RAW_BODIES[input_kind]: {"schema": raw}}
    return {
        "openapi": "3.0.1",
        "info": {"title": "LIT inference API", "version": "1.0"},
        "paths": {
            path: {
                "post": {
                    "requestBody": {"required": True, "content": body},
                    "responses": {
                        "200": {"description": "predictions (JSON, or .npy/.npz when Accept names it)"},
                        "400": {"description": "bad input"},
                        "406": {"description": "no answer form that Accept names"},
                        "413": {"description": "the request or its answer is over 6 MB"},
                        "415": {"description": "unsupported content type"},
                    },
                    "x-amazon-apigateway-integration": integration,
                }
            }
        },
        "x-amazon-apigateway-binary-media-types": binary_media_types(input_kind),
    }


def deployment(
    name: str, alias: str, plan: rollout.Policy, limits: rollout.Thresholds
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`lit deploy --canary/--linear` as SAM's DeploymentPreference (CodeDeploy shifts the alias's
    traffic; periods in whole minutes) with CloudWatch alarms on the new version (dimension
    ExecutedVersion) for the same thresholds: the error rate (Lambda's Errors with LIT's 5xx answers,
    over its Invocations), throttles, and the p99 Duration when a bound is given."""
    minutes = max(1, -(-int(plan.period_s) // 60))
    percent = max(1, round(plan.percent))
    routing = (
        {"Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": percent, "CanaryInterval": minutes}}
        if plan.kind == "canary"
        else {"Type": "TimeBasedLinear", "TimeBasedLinear": {"LinearPercentage": percent, "LinearInterval": minutes}}
    )
    new = {"Fn::GetAtt": ["Function.Version", "Version"]}
    dims: list[dict[str, Any]] = [
        {"Name": "FunctionName", "Value": name},
        {"Name": "Resource", "Value": f"{name}:{alias}"},
        {"Name": "ExecutedVersion", "Value": new},
    ]

    def stat(key: str, namespace: str, metric: str, dimensions: list[dict[str, Any]]) -> dict[str, Any]:
        spec = {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions}
        return {"Id": key, "MetricStat": {"Metric": spec, "Period": 60, "Stat": "Sum"}, "ReturnData": False}

    def alarm(description: str, threshold: float, **props: Any) -> dict[str, Any]:
        if "MetricName" in props:  # one of Lambda's metrics of the new version, per minute
            props = {"Namespace": "AWS/Lambda", "Dimensions": dims, "Period": 60, **props}
        common = {
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        }
        return {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"AlarmDescription": description, "Threshold": threshold, **common, **props},
        }

    lit_dims: list[dict[str, Any]] = [{"Name": "function", "Value": name}, {"Name": "version", "Value": new}]
    resources: dict[str, Any] = {
        "RolloutConfig": {
            "Type": "AWS::CodeDeploy::DeploymentConfig",
            "Properties": {"ComputePlatform": "Lambda", "TrafficRoutingConfig": routing},
        },
        "NewVersionErrorRate": alarm(
            f"the new version's failed requests over {limits.error_rate:.1%} (lit deploy's --max-error-rate)",
            limits.error_rate,
            Metrics=[
                stat("errors", "AWS/Lambda", "Errors", dims),
                stat("answers", "LIT", "errors", lit_dims),
                stat("requests", "AWS/Lambda", "Invocations", dims),
                {"Id": "rate", "Expression": "(errors + answers) / MAX([requests, 1])", "ReturnData": True},
            ],
        ),
        "NewVersionThrottles": alarm(
            f"the new version throttled over {limits.throttles} times (--max-throttles)",
            limits.throttles,
            MetricName="Throttles",
            Statistic="Sum",
        ),
    }
    if limits.p99_ms is not None:
        resources["NewVersionP99"] = alarm(
            f"the new version's p99 Duration over {limits.p99_ms:g} ms (--max-p99)",
            limits.p99_ms,
            MetricName="Duration",
            ExtendedStatistic="p99",
        )
    preference = {
        "Type": {"Ref": "RolloutConfig"},
        "Alarms": [{"Ref": key} for key in resources if key != "RolloutConfig"],
    }
    return preference, resources


def render(
    project: Project,
    image_uri: str | None,
    alias: str = "live",
    api: bool = False,
    url: bool = True,
    url_auth: str = "AWS_IAM",
    shift: tuple[rollout.Policy, rollout.Thresholds] | None = None,
) -> dict[str, Any]:
    fn = project.function
    props: dict[str, Any] = {
        "FunctionName": project.name,
        "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
        "PackageType": "Image",
        "ImageUri": {"Ref": "ImageUri"},
        "MemorySize": fn.memory,
        "Timeout": fn.timeout,
        "EphemeralStorage": {"Size": fn.ephemeral_storage},
        "Architectures": [fn.architecture],
        "AutoPublishAlias": alias,
    }
    if fn.snapstart:  # SAM publishes the version (AutoPublishAlias) that the snapshot is taken of
        props["SnapStart"] = {"ApplyOn": "PublishedVersions"}
    if fn.environment:
        props["Environment"] = {"Variables": fn.environment}
    if fn.reserved_concurrency is not None:
        props["ReservedConcurrentExecutions"] = fn.reserved_concurrency
    if fn.provisioned_concurrency:
        props["ProvisionedConcurrencyConfig"] = {"ProvisionedConcurrentExecutions": fn.provisioned_concurrency}
    props["Tags"] = {**fn.tags, "lit:managed": "true"}
    if fn.subnets:
        props["VpcConfig"] = {"SubnetIds": list(fn.subnets), "SecurityGroupIds": list(fn.security_groups)}
    resources: dict[str, Any] = {
        "Function": {"Type": "AWS::Serverless::Function", "Properties": props},
        "FunctionRole": role(project),
    }
    if shift is not None:
        props["DeploymentPreference"], more = deployment(project.name, alias, *shift)
        resources.update(more)
    outputs: dict[str, Any] = {"FunctionArn": {"Value": {"Ref": "Function.Alias"}}}
    if api:
        props["Events"] = {
            "Predict": {
                "Type": "Api",
                "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/predict", "Method": "post"},
            }
        }
        resources["Api"] = {
            "Type": "AWS::Serverless::Api",
            "Properties": {
                "StageName": "prod",
                "DefinitionBody": openapi("/predict", alias, project.input_kind),
                "BinaryMediaTypes": [t.replace("/", "~1") for t in binary_media_types(project.input_kind)],
            },
        }
        outputs["ApiUrl"] = {
            "Value": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod/predict"}
        }
    elif url:
        props["FunctionUrlConfig"] = {"AuthType": url_auth}
        outputs["FunctionUrl"] = {"Value": {"Fn::GetAtt": ["FunctionUrl", "FunctionUrl"]}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"LIT function {project.name}",
        "Parameters": {
            "ImageUri": {
                "Type": "String",
                "Description": "The function image, pinned by digest (REPOSITORY@sha256:...), as `lit push` prints it",
                **({"Default": image_uri} if image_uri else {}),
            }
        },
        "Resources": resources,
        "Outputs": outputs,
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"
