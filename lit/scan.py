"""`lit scan`: look through every layer of an image, and its config, for what must never ship.

The image is streamed out of the engine (`docker save`, never written to disk) and every layer is
read on its own, so a file that a later layer deletes is still found: it stays in the layer that
added it, and anyone who pulls the image can read it.

Found:
- private keys: PEM blocks (RSA, EC, DSA, OPENSSH, PKCS#8, encrypted) with a key body;
- AWS access key ids (AKIA/ASIA + 16) and secret access keys in assignments
  (`aws_secret_access_key = ...`, `"SecretAccessKey": "..."`); AWS's documented example keys are not;
- credential files by name: .aws/credentials, .netrc, .pypirc, .git-credentials, and a
  .docker/config.json that holds registry logins (auths);
- CA bundles and certificate files (`*.pem`, `*.crt`, ... with a certificate, or any file with 2 or
  more); LIT's build-time CA bundle (the host's, handed to pip) is named as such;
- cloud keys and tokens (lit/scan_rules.py): GitHub (classic, fine-grained, OAuth, app), GitLab,
  Slack tokens and webhooks, Stripe live keys, npm and PyPI tokens, Azure storage connection
  strings, Google API keys; Google service account key files; private JSON Web Keys and JWT signing
  secrets; .env files setting secret-named variables; kubeconfigs and .npmrc files with credentials;
  a PEM key inside a string with its newlines escaped;
- in the config: secret-looking environment variables and labels, build args in the history.

Layers are read plain, gzip- or zstd-compressed.

Allowed, by this policy:
- Debian's ca-certificates package: its certificates under /usr/share/ca-certificates/mozilla/, and
  /etc/ssl/certs/ca-certificates.crt, which update-ca-certificates generates from them, as long as
  every certificate in that bundle is one of the package's (a bundle with any other certificate, say
  a host's or a TLS-intercepting proxy's root, is reported);
- certifi's public Mozilla bundle (site-packages/certifi/cacert.pem, pip's vendored copy and
  botocore's), by path.

Members are streamed: every regular file up to MAX_TEXT bytes is read and searched, decided by its
content, not its name (lit/scan_unpack.py): compressed files and archives are opened, and binaries
by their first bytes (ELF objects, images) are left out. Larger files are not read.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from . import scan_rules
from .docker import Docker
from .errors import LitError
from .scan_unpack import unpack

PRIVATE_KEY = "private-key"
AWS_KEY_ID = "aws-access-key-id"
AWS_SECRET = "aws-secret-access-key"
CREDENTIALS = "credentials-file"
CA_BUNDLE = "ca-bundle"
CONFIG_SECRET = "secret-in-config"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

MAX_TEXT = 32 * 2**20  # larger files are not read (keys, credentials and CA bundles are far smaller)
_BUF = 2**16  # tarfile's stream mode copies its buffer's tail on every read: keep it small
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".cert", ".ca-bundle")
# LIT hands the host's CA bundle to pip under this name in its build stages (lit/base.py, lit/build.py).
LIT_BUILD_BUNDLE = "ca-bundle.crt"
DISTRO_CERTS = "usr/share/ca-certificates/mozilla/"
DISTRO_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
# certifi's public bundle, installed or inside a wheel (pip's own, under /usr/share/python-wheels)
PUBLIC_BUNDLE = re.compile(
    r"(?:(?:^|/)(?:site|dist)-packages/|\.whl!/)(?:pip/_vendor/)?(?:certifi|botocore)/cacert\.pem$"
)
CREDENTIAL_FILES = {
    ".aws/credentials": "an AWS shared credentials file",
    ".netrc": "a .netrc (logins and passwords)",
    "_netrc": "a .netrc (logins and passwords)",
    ".pypirc": "a .pypirc (package index upload credentials)",
    ".git-credentials": "a .git-credentials file",
    ".docker/config.json": "a Docker config holding registry logins (auths)",
}
EXAMPLE_KEY_IDS = {b"AKIAIOSFODNN7EXAMPLE", b"ASIAIOSFODNN7EXAMPLE"}  # AWS's documentation keys

_PRIVATE_KEY = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |ANY )?PRIVATE KEY)-----\r?\n"
    rb"(?:[A-Za-z-]+:[^\n]*\n)*\s*[A-Za-z0-9+/=\r\n]{40,}?-----END \1-----"
)
_CERT = re.compile(rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)-----END")
_KEY_ID = re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Z0-9])")
_SECRET = re.compile(
    rb"(?i)(?:aws_?secret_?access_?key|secret_?access_?key)[\"']?\s*(?:=|:|=>)\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
)
_SECRET_NAME = re.compile(
    r"(?i)(?:^|[^a-z])(?:secret|passw(?:or)?d|token|api_?key|access_?key|private_?key|credentials?)(?:[^a-z]|$)"
)
_BUILD_ARGS = re.compile(r"^\|(\d+) (.*)$", re.S)
_NOP = re.compile(r"^(?:/bin/sh -c )?(?:#\(nop\)\s+)?(ENV|ARG)\s+(.*)$", re.S)
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(\"(?:[^\"\\]|\\.)*\"|\S*)")


@dataclass(frozen=True)
class Finding:
    kind: str
    path: str  # the file in the layer, or the config field
    layer: str  # the layer's diff id (sha256:...), or "config"
    detail: str
    step: str = ""  # the build step that made the layer (the image history's created_by)
    index: int = -1  # the layer's position, 0 = the bottom one; -1 for the config


@dataclass
class ScanResult:
    image: str
    id: str
    layers: int
    files: int
    scanned_bytes: int
    seconds: float
    findings: list[Finding] = field(default_factory=list)
    unscanned: list[str] = field(default_factory=list)  # layers in a format this scanner cannot read


def _fingerprint(body: bytes) -> str:
    return hashlib.sha256(b"".join(body.split())).hexdigest()


def certificates(data: bytes) -> list[str]:
    """Fingerprints of the PEM certificates in data (of the base64 body, whitespace ignored)."""
    return [_fingerprint(m.group(1)) for m in _CERT.finditer(data)] if b"-----BEGIN" in data else []


def content_findings(data: bytes) -> list[tuple[str, str]]:
    """(kind, detail) for the keys and AWS credentials in a blob of text."""
    found: list[tuple[str, str]] = []
    if b"-----BEGIN" in data:
        kinds = sorted({m.group(1).decode() for m in _PRIVATE_KEY.finditer(data)})
        found += [(PRIVATE_KEY, f"a PEM {k} block") for k in kinds]
        if b"\\n" in data:  # a key inside a JSON or source string, its newlines escaped
            unescaped = data.replace(b"\\n", b"\n")
            escaped = sorted({m.group(1).decode() for m in _PRIVATE_KEY.finditer(unescaped)} - set(kinds))
            found += [(PRIVATE_KEY, f"a PEM {k} block (in a string, newlines escaped)") for k in escaped]
    if b"AKIA" in data or b"ASIA" in data:
        ids = sorted({m.group(0) for m in _KEY_ID.finditer(data)} - EXAMPLE_KEY_IDS)
        found += [(AWS_KEY_ID, f"AWS access key id {k[:8].decode()}...") for k in ids]
    if b"ecret" in data or b"ECRET" in data:
        secrets = {m.group(1) for m in _SECRET.finditer(data) if b"EXAMPLE" not in m.group(1)}
        if secrets:
            found.append((AWS_SECRET, f"{len(secrets)} AWS secret access key assignment(s)"))
    return found + scan_rules.tokens(data)


def _credential_file(path: str, data: bytes) -> str | None:
    for suffix, what in CREDENTIAL_FILES.items():
        if path == suffix or path.endswith("/" + suffix):
            if not data.strip():
                return None
            if suffix == ".docker/config.json":
                try:
                    auths = json.loads(data).get("auths") or {}
                except (ValueError, AttributeError):
                    return None
                logged_in = [h for h, a in auths.items() if isinstance(a, dict) and set(a) - {"email"}]
                return f"{what}: {', '.join(sorted(logged_in))}" if logged_in else None
            return what
    return None


def wants_content(path: str, size: int) -> bool:
    """Whether a member is read: any size up to MAX_TEXT (what it is is decided by its content)."""
    return 0 < size <= MAX_TEXT


class Detector:
    """Findings per layer; the CA-bundle policy needs all layers seen before it can decide."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str, str, str]] = []  # (layer key, kind, path, detail)
        self._distro: set[str] = set()
        self._bundles: list[tuple[str, str, list[str]]] = []

    def file(self, layer: str, path: str, data: bytes) -> None:
        for kind, detail in content_findings(data):
            self.found.append((layer, kind, path, detail))
        if what := _credential_file(path, data):
            self.found.append((layer, CREDENTIALS, path, what))
        for kind, detail in scan_rules.files(path, data):
            self.found.append((layer, kind, path, detail))
        name = path.rsplit("/", 1)[-1]
        if path.endswith("lit/" + LIT_BUILD_BUNDLE) and data.strip():
            self.found.append((layer, CA_BUNDLE, path, "LIT's build-time CA bundle (the host's, handed to pip)"))
            return
        certs = certificates(data)
        if not certs:
            return
        if path.startswith(DISTRO_CERTS):
            self._distro.update(certs)
        elif path == DISTRO_BUNDLE:
            self._bundles.append((layer, path, certs))
        elif PUBLIC_BUNDLE.search(path):
            pass
        elif len(certs) >= 2 or name.lower().endswith(CERT_SUFFIXES):
            self.found.append((layer, CA_BUNDLE, path, f"{len(certs)} certificate(s)"))

    def finish(self) -> list[tuple[str, str, str, str]]:
        for layer, path, certs in self._bundles:
            extra = set(certs) - self._distro
            if extra:
                self.found.append(
                    (
                        layer,
                        CA_BUNDLE,
                        path,
                        f"{len(extra)} of its {len(certs)} certificates are not ones the ca-certificates package "
                        "ships (a host's or a proxy's CA?)",
                    )
                )
        return self.found


def config_findings(config: dict[str, Any]) -> list[Finding]:
    """Secrets in the image config: environment, labels, and build args and ENV/ARG steps in the history."""
    cfg = config.get("config") or {}
    found: list[Finding] = []

    def check(where: str, name: str, value: str) -> None:
        value = value.strip().strip("\"'")
        if value and not value.startswith(("/", "$")) and _SECRET_NAME.search(name):
            found.append(Finding(CONFIG_SECRET, where, "config", f"{name} has a value (a secret baked into the image)"))
        for kind, detail in content_findings(value.encode()):
            found.append(Finding(kind, where, "config", detail))

    env = cfg.get("Env") or []
    for item in env:
        name, _, value = item.partition("=")
        check(f"Env {name}", name, value)
    for name, value in (cfg.get("Labels") or {}).items():
        check(f"Label {name}", name, str(value))
    for i, step in enumerate(config.get("history") or []):
        created = str(step.get("created_by", ""))
        where = f"history[{i}]"
        seen = len(found)
        if m := _BUILD_ARGS.match(created):
            tokens = _ASSIGN.findall(m.group(2))[: int(m.group(1))]
            for name, value in tokens:
                check(f"{where} build arg {name}", name, value)
        elif m := _NOP.match(created):
            for name, value in _ASSIGN.findall(m.group(2)):
                if m.group(1) == "ENV" and f"{name}={value.strip(chr(34))}" in env:
                    continue  # reported once, from Env
                check(f"{where} {m.group(1)} {name}", name, value)
        if len(found) == seen:  # nothing by name: the step's text may still hold a key
            for kind, detail in content_findings(created.encode()):
                found.append(Finding(kind, where, "config", detail))
    return found


class _Rejoined:
    """A stream with its first bytes (read to sniff the format) put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._rest.read(size)


@dataclass
class _Archive:
    manifest: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[str, Any] = field(default_factory=dict)  # JSON members by name (configs, OCI manifests)
    aliases: dict[str, str] = field(default_factory=dict)  # layer.tar symlinks -> their targets
    unscanned: list[str] = field(default_factory=list)
    files: int = 0
    scanned_bytes: int = 0


def _scan_layer(stream: Any, key: str, mode: Literal["r|", "r|gz"], detector: Detector, archive: _Archive) -> None:
    with tarfile.open(fileobj=stream, mode=mode, bufsize=_BUF) as layer:
        for entry in layer:
            if not entry.isreg():
                continue
            path = posixpath.normpath("/" + entry.name).lstrip("/")
            archive.files += 1
            if path.rsplit("/", 1)[-1].startswith(".wh.") or not wants_content(path, entry.size):
                continue
            handle = layer.extractfile(entry)
            if handle is None:
                continue
            data = handle.read()
            archive.scanned_bytes += len(data)
            for inner, body in unpack(path, data):
                detector.file(key, inner, body)


def scan_archive(stream: IO[bytes], detector: Detector) -> _Archive:
    """Walk a `docker save` tar (Docker's legacy layout or an OCI layout) as it streams in."""
    archive = _Archive()
    with tarfile.open(fileobj=stream, mode="r|", bufsize=_BUF) as outer:
        for member in outer:
            name = member.name
            if member.issym() and name.endswith("/layer.tar"):
                # identical layers are saved once; the others are links to it
                archive.aliases[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
                continue
            if not member.isfile():
                continue
            handle = outer.extractfile(member)
            if handle is None:
                continue
            if name == "manifest.json":
                archive.manifest = json.load(handle)
                continue
            if not (name.endswith((".json", "/layer.tar")) or name.startswith("blobs/")):
                continue
            _blob(name, member.size, handle, detector, archive)
    return archive


def _blob(name: str, size: int, handle: IO[bytes], detector: Detector, archive: _Archive) -> None:
    """One file of the saved image, known by its first bytes: a JSON config or manifest (kept), a
    layer (plain, gzip or zstd: scanned), an empty layer, or one LIT cannot read (said so)."""
    head = handle.read(512)
    if head.lstrip()[:1] in (b"{", b"["):
        if size < 64 * 2**20:
            try:
                archive.blobs[name] = json.loads(head + handle.read())
            except ValueError:
                pass
    elif head[257:262] == b"ustar":
        _scan_layer(_Rejoined(head, handle), name, "r|", detector, archive)
    elif head[:2] == b"\x1f\x8b":
        _scan_layer(_Rejoined(head, handle), name, "r|gz", detector, archive)
    elif head[:4] == ZSTD_MAGIC:
        if (reader := _zstd(_Rejoined(head, handle))) is None:
            archive.unscanned.append(name)
        else:
            _scan_layer(reader, name, "r|", detector, archive)
    elif head.strip(b"\0") and name.endswith("/layer.tar"):
        archive.unscanned.append(name)  # (all zeros: an empty layer, only the end-of-archive blocks)


def _zstd(stream: Any) -> Any:
    """A zstd-compressed layer (containerd's image store saves these), decompressed as it streams."""
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a dependency of lit; only a broken install lacks it
        return None
    return zstandard.ZstdDecompressor().stream_reader(stream)


def _layer_order(archive: _Archive) -> tuple[list[str], dict[str, Any]]:
    """The layer members bottom to top, and the image config."""
    if not archive.manifest:
        raise LitError("the saved image has no manifest.json", "re-run; if it persists, report the Docker version")
    entry = archive.manifest[0]
    config = archive.blobs.get(entry.get("Config", ""), {})
    return [archive.aliases.get(layer, layer) for layer in entry.get("Layers", [])], config


def resolve(archive: _Archive, raw: Iterable[tuple[str, str, str, str]]) -> list[Finding]:
    """Name each finding's layer by its diff id and the build step that made it."""
    order, config = _layer_order(archive)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    steps = [str(h.get("created_by", "")) for h in config.get("history") or [] if not h.get("empty_layer")]
    findings = []
    for key, kind, path, detail in raw:
        index = order.index(key) if key in order else -1
        layer = diff_ids[index] if 0 <= index < len(diff_ids) else key
        step = steps[index] if 0 <= index < len(steps) and len(steps) == len(order) else ""
        findings.append(Finding(kind, "/" + path, layer, detail, step, index))
    return findings + config_findings(config)


def scan(docker: Docker, ref: str) -> ScanResult:
    """Scan every layer and the config of a local image."""
    docker.ensure()
    info = docker.image(ref)
    if info is None:
        raise LitError(f"image {ref} does not exist", "build it (`lit build DIR`), or pass an existing image")
    start = time.monotonic()
    detector = Detector()
    with docker.save(ref) as stream:
        archive = scan_archive(stream, detector)
    findings = resolve(archive, detector.finish())
    findings.sort(key=lambda f: (f.index, f.path, f.kind))
    order, _ = _layer_order(archive)
    return ScanResult(
        image=ref,
        id=str(info["Id"]),
        layers=len(order),
        files=archive.files,
        scanned_bytes=archive.scanned_bytes,
        seconds=round(time.monotonic() - start, 2),
        findings=findings,
        unscanned=archive.unscanned,
    )


FIX = (
    "remove them at the source and rebuild: keep them out of the build context (lit.toml [build] exclude), "
    "give secrets to the function at run time (its environment or Secrets Manager), and never COPY then "
    "delete: a file deleted in a later layer stays in the layer that added it"
)


def text(result: ScanResult) -> str:
    lines = []
    for f in result.findings:
        where = "config" if f.index < 0 else f"layer {f.index + 1}/{result.layers} {f.layer[:19]}"
        lines.append(f"{f.kind:22} {where}  {f.path}  ({f.detail})")
        if f.step:
            lines.append(f"{'':22} made by: {f.step[:120]}")
    lines += [f"unscanned layer (unknown compression): {name}" for name in result.unscanned]
    summary = (
        f"{result.image}: {len(result.findings)} finding(s)"
        if result.findings
        else f"{result.image}: no credentials, private keys or CA bundles"
    )
    lines.append(
        f"{summary} in {result.layers} layers and the config ({result.files} files, "
        f"{result.scanned_bytes / 1e6:.0f} MB read, {result.seconds} s)"
    )
    return "\n".join(lines)
