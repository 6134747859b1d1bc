"""Clients for AWS: one typed class per service, handed a boto3 session (never made at import).

boto3 honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, which is how tests point these at
moto server. AWS errors become LitErrors that say where, what and what to do.
"""

from __future__ import annotations

from typing import Any

from .errors import LitError


def session(region: str | None = None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def translate(exc: Exception, where: str) -> LitError:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return LitError(
            f"{where}: no AWS credentials found", "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return LitError(f"{where}: no AWS region set", "set AWS_REGION (or AWS_DEFAULT_REGION)")
    if isinstance(exc, EndpointConnectionError):
        return LitError(
            f"{where}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}", "check the region and network"
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        fixes = {
            "NoSuchBucket": "create the bucket first, or fix its name",
            "AccessDenied": "grant this identity the S3 permission named above",
            "403": "grant this identity access to the bucket",
            "InvalidAccessKeyId": "check your AWS credentials",
        }
        return LitError(f"{where}: {code} {message}".strip(), fixes.get(code, "see AWS's message above"))
    return LitError(f"{where}: {exc}", "see the message above")


class S3Client:
    def __init__(self, sess: Any) -> None:
        self._s3 = sess.client("s3")

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        except Exception as exc:
            raise translate(exc, f"uploading s3://{bucket}/{key}") from None
