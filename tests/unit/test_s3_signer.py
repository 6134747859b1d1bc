"""The runtime's own SigV4 signer for S3 against botocore's, on the same requests: keys with
spaces, '+', unicode and query strings, a body, a session token. (The model bucket tests also run
it against moto server with signatures checked: tests/functional/test_model_bucket.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from lit_runtime import s3

pytestmark = pytest.mark.unit
NOW = dt.datetime(2026, 11, 25, 18, 30, 5, tzinfo=dt.UTC)


def botocore_headers(method: str, url: str, headers: dict, body: bytes, creds: s3.Credentials) -> dict:
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = auth.S3SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token), "s3", "eu-west-1")
    real = auth.get_current_datetime
    auth.get_current_datetime = lambda: NOW
    try:
        signer.add_auth(request)
    finally:
        auth.get_current_datetime = real
    return {k.lower(): v for k, v in request.headers.items()}


@pytest.mark.parametrize(
    ("key", "query"),
    [
        ("model/digits-0000.params", ""),
        ("a key with spaces/and+plus=equals.json", ""),
        ("ünïcödé/模型/файл.onnx", ""),
        ("weird/~tilde_-.(parens)!*'", ""),
        ("model/x.onnx", "versionId=3%2FL4kqtJl40Nr8X8gdRQBpUMLUo&partNumber=1"),
        ("model/x.onnx", "response-content-type=application%2Fjson&list-type=2&prefix=a%20b%2Bc"),
    ],
)
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//////////wEaDH+token=="])
def test_signatures_match_botocores(key: str, query: str, token: str | None) -> None:
    creds = s3.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    client = s3.S3(region="eu-west-1", endpoint="https://bucket.s3.eu-west-1.amazonaws.com")
    url = client._url("bucket", key).replace("/bucket/", "/", 1) + (f"?{query}" if query else "")
    body = b'{"a": 1}'
    ours = s3.sign("PUT", url, {"Content-Type": "application/json"}, body, creds, "eu-west-1", NOW)
    theirs = botocore_headers("PUT", url, {"Content-Type": "application/json"}, body, creds)
    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"] and ours["x-amz-content-sha256"] == theirs["x-amz-content-sha256"]
