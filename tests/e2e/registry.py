"""A real image registry standing in for ECR: Debian's docker-registry (distribution 2.8) with TLS
and htpasswd auth, on 127.0.0.1:443, under the host name moto's ECR token names, so that
`lit push` runs the production path unchanged (get_authorization_token -> docker login -> push).

Needs root (port 443, /etc/hosts, /etc/docker/certs.d). Everything it changes on the machine is
put back at the end; the registry process is stopped by pid.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOSTS = Path("/etc/hosts")
CERTS_D = Path("/etc/docker/certs.d")


@contextmanager
def ecr_registry(work: Path, host: str, username: str, password: str) -> Iterator[dict]:
    for tool in ("docker-registry", "htpasswd", "openssl"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (scripts/setup.sh installs it)")
    work.mkdir(parents=True, exist_ok=True)
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=DNS:{host}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    htpasswd = work / "htpasswd"
    htpasswd.write_text(
        subprocess.run(["htpasswd", "-Bbn", username, password], check=True, capture_output=True, text=True).stdout
    )
    config = work / "config.yml"
    config.write_text(
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(work / "data")}, "delete": {"enabled": True}},
                "http": {"addr": "127.0.0.1:443", "tls": {"certificate": str(cert), "key": str(key)}},
                "auth": {"htpasswd": {"realm": "lit-test", "path": str(htpasswd)}},
            }
        )
    )
    hosts_before = HOSTS.read_text()
    cert_dir = CERTS_D / host
    made_cert_dir = not cert_dir.exists()
    proc = None
    try:
        if f" {host}" not in hosts_before:
            HOSTS.write_text(hosts_before.rstrip("\n") + f"\n127.0.0.1 {host}  # lit e2e registry\n")
        cert_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(cert, cert_dir / "ca.crt")
        log = (work / "registry.log").open("w")
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        context = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"https://{host}/v2/", context=context, timeout=1)
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the registry did not start: " + (work / "registry.log").read_text()[-1000:])
            time.sleep(0.1)
        yield {"host": host, "cafile": str(cert), "username": username, "password": password}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["docker", "logout", host], capture_output=True)
        HOSTS.write_text(hosts_before)
        if made_cert_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)


def _auth(registry: dict) -> str:
    return "Basic " + base64.b64encode(f"{registry['username']}:{registry['password']}".encode()).decode()


def manifest(registry: dict, repository: str, reference: str) -> tuple[str, dict]:
    """(Docker-Content-Digest, manifest JSON) of repository:reference, as Lambda would fetch it."""
    req = urllib.request.Request(
        f"https://{registry['host']}/v2/{repository}/manifests/{reference}",
        headers={
            "Authorization": _auth(registry),
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, "
            "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json",
        },
    )
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=registry["cafile"]), timeout=10) as resp:
        return resp.headers["Docker-Content-Digest"], json.loads(resp.read())


def blob(registry: dict, repository: str, digest: str) -> bytes:
    """A blob of the repository (an image config, a layer), as Lambda would fetch it."""
    req = urllib.request.Request(
        f"https://{registry['host']}/v2/{repository}/blobs/{digest}", headers={"Authorization": _auth(registry)}
    )
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=registry["cafile"]), timeout=30) as resp:
        return bytes(resp.read())
