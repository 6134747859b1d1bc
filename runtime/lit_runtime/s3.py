"""A small S3 client (GetObject / PutObject) with AWS Signature Version 4, on the standard library.

boto3 would add ~100 MB to the image and ~0.3 s to every cold start for two calls. Credentials and
region come from the variables Lambda sets; AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL point it at
another endpoint (path-style), as boto3 honours them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class S3Error(Exception):
    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    @classmethod
    def from_env(cls) -> Credentials:
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not key or not secret:
            raise S3Error("no AWS credentials in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
        return cls(key, secret, os.environ.get("AWS_SESSION_TOKEN"))


def parse_url(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3Error(f"{url!r} is not an s3://bucket/key URL")
    return parsed.netloc, parsed.path.lstrip("/")


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(
    method: str, url: str, headers: dict[str, str], body: bytes, creds: Credentials, region: str, now: dt.datetime
) -> dict[str, str]:
    """The request's headers with AWS Signature Version 4 for S3 added (x-amz-date, the payload
    hash, the session token, authorization). `url` is already percent-encoded, as sent."""
    parsed = urllib.parse.urlsplit(url)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    out = {k.lower(): v for k, v in headers.items()}
    out.update({"host": parsed.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date})
    if creds.token:
        out["x-amz-security-token"] = creds.token
    pairs = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(pairs)
    )
    signed = ";".join(sorted(out))
    canonical = "\n".join(
        [
            method,
            parsed.path or "/",
            query,
            "".join(f"{k}:{' '.join(out[k].split())}\n" for k in sorted(out)),
            signed,
            payload_hash,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _sign(_sign(_sign(_sign(("AWS4" + creds.secret_key).encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return out


class S3:
    def __init__(self, region: str | None = None, endpoint: str | None = None, timeout: float = 30) -> None:
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.endpoint = (
            endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
        ).rstrip("/")
        self.timeout = timeout

    def _url(self, bucket: str, key: str) -> str:
        quoted = urllib.parse.quote(key, safe="/-_.~")
        if self.endpoint:
            return f"{self.endpoint}/{bucket}/{quoted}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{quoted}"

    def _request(self, method: str, bucket: str, key: str, body: bytes = b"", content_type: str | None = None) -> bytes:
        with self._open(method, bucket, key, body, content_type) as resp:
            try:
                return bytes(resp.read())
            except (OSError, http.client.HTTPException) as exc:  # a reset or truncated body
                raise S3Error(f"S3 {method} s3://{bucket}/{key}: {type(exc).__name__}: {exc}") from None

    def _open(self, method: str, bucket: str, key: str, body: bytes = b"", content_type: str | None = None) -> Any:
        url = self._url(bucket, key)
        headers = {"content-type": content_type} if content_type else {}
        headers = sign(method, url, headers, body, Credentials.from_env(), self.region, dt.datetime.now(dt.UTC))
        req = urllib.request.Request(url, data=body if method == "PUT" else None, method=method, headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                text = exc.read(65536).decode(errors="replace")
            except (OSError, http.client.HTTPException):
                text = ""
            code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""
            raise S3Error(f"S3 {method} s3://{bucket}/{key}: {exc.code} {code or exc.reason}", exc.code, code) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise S3Error(f"S3 {method} s3://{bucket}/{key}: {exc}") from None

    def get(self, bucket: str, key: str) -> bytes:
        return self._request("GET", bucket, key)

    def open(self, bucket: str, key: str) -> Any:
        """GetObject's response, open for streaming (read1 / read; close it)."""
        return self._open("GET", bucket, key)

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/json") -> None:
        self._request("PUT", bucket, key, body, content_type)
