"""The execution role's grants: the one source `lit deploy` (the role it makes) and `lit template`
(the role in the SAM template) both read, so that neither grants more than the other.

Least privilege: the function's own log group; S3 read of its model's prefix and write of its
outputs' prefix, and the network interfaces a VPC function needs, only when lit.toml uses them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from .project import Project

NAME = "lit"  # the inline policy's name on the role
VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def document(project: Project, account: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """The role's policy document. (A template passes CloudFormation's ${AWS::AccountId},
    ${AWS::Region} and ${AWS::Partition} as account, region and partition.)"""
    logs = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{project.name}"
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": logs},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{logs}:*"},
    ]
    if project.model_url and project.model_url.startswith("s3://"):
        u = urlparse(project.model_url)
        resource = f"arn:{partition}:s3:::{u.netloc}/{u.path.strip('/')}/*"
        statements.append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource})
    if output := project.output_s3:
        u = urlparse(output)
        prefix = u.path.strip("/")
        resource = f"arn:{partition}:s3:::{u.netloc}/{prefix + '/' if prefix else ''}*"
        statements.append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": resource})
    if project.function.subnets:
        # ENI calls cannot be scoped to resources (AWSLambdaVPCAccessExecutionRole uses "*" too)
        statements.append({"Effect": "Allow", "Action": VPC_ACTIONS, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True)
