"""What `lit scan` looks for in a file besides PEM keys and AWS keys: the cloud keys and tokens that
the well-known secret scanners' public rule sets cover (gitleaks, trufflehog, GitHub's secret
scanning partners), and files that hold credentials by their shape (.env, kubeconfig, .npmrc, a
Google service account key, a private JWK).

Each token pattern starts with a literal, which re finds at memchr speed, so that the scan of a
500 MB image stays at seconds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

TOKEN = "token"  # a cloud or service token, named in the finding's detail
ENV_FILE = "env-file-secret"
KUBECONFIG = "kubeconfig-credentials"
SERVICE_ACCOUNT = "gcp-service-account-key"
JWT_KEY = "jwt-signing-key"
NPMRC = "npmrc-credentials"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[bytes]  # starts with a literal, so that re finds candidates at memchr speed


# A match must not be the middle of a longer run (base64 text, hashes): checked on the byte before
# it rather than with a lookbehind, which would cost re its fast literal search.
_RUN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/-")
_E = r"(?![A-Za-z0-9_-])"
RULES = tuple(
    Rule(name, re.compile(pattern.encode()))
    for name, pattern in (
        ("GitHub token (classic personal, OAuth, app or refresh)", r"gh[pousr]_[A-Za-z0-9]{36}" + _E),
        ("GitHub fine-grained personal access token", r"github_pat_[A-Za-z0-9_]{82}" + _E),
        ("GitLab token", r"gl(?:pat|rt)-[A-Za-z0-9_-]{20,}" + _E),
        ("Slack token", r"xox[abposr]-(?:[0-9]{8,}-){1,3}[A-Za-z0-9-]{8,}" + _E),
        ("Slack webhook URL", r"hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,}/[A-Z0-9]{6,}/[A-Za-z0-9]{16,}"),
        ("Stripe live secret key", r"_live_[A-Za-z0-9]{24,}" + _E),  # sk_live_ / rk_live_: checked below
        ("npm access token", r"npm_[A-Za-z0-9]{36}" + _E),
        ("PyPI upload token", r"pypi-AgE[A-Za-z0-9_-]{50,}"),
        (
            "Azure storage connection string (account key)",
            r"AccountName=[a-z0-9]{3,24};AccountKey=[A-Za-z0-9+/]{86}==",
        ),
        ("Google API key", r"AIza[A-Za-z0-9_-]{35}" + _E),
    )
)


def _starts_a_run(data: bytes, start: int, name: str) -> bool:
    if name.startswith("Stripe"):
        return data[max(0, start - 2) : start] in (b"sk", b"rk") and (start < 3 or data[start - 3] not in _RUN)
    return start == 0 or data[start - 1] not in _RUN or name.startswith(("Slack webhook", "Azure"))


_PLACEHOLDER = re.compile(r"(?i)^(?:x+|\*+|\.+|-+|changeme|change_me|secret|password|none|null|todo|example.*|your.*)$")
_ENV_LINE = re.compile(rb"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*?)[ \t\r]*$", re.M)
_SECRET_NAME = re.compile(r"(?i)(?:secret|passw(?:or)?d|pwd|token|api_?key|access_?key|private_?key|credential|auth)")
_JWT_ASSIGN = re.compile(
    rb"(?i)\bjwt_?(?:secret|signing_?key|private_?key|key)[\"']?\s*[=:]\s*[\"']?([^\s\"'#,;]{16,})"
)
_ENV_NAMES = re.compile(r"(?:^|/)\.env(?:\.[A-Za-z0-9_-]+)?$")
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".defaults")


def _real(value: str) -> bool:
    """A value that is set to something, not a placeholder or a reference to another variable."""
    v = value.strip().strip("\"'")
    return bool(v) and not v.startswith(("$", "<", "{", "%")) and not _PLACEHOLDER.match(v)


def tokens(data: bytes) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for rule in RULES:
        n = len({m.group(0) for m in rule.pattern.finditer(data) if _starts_a_run(data, m.start(), rule.name)})
        if n:
            found.append((TOKEN, rule.name + (f" ({n})" if n > 1 else "")))
    return found


def env_file(path: str, data: bytes) -> list[tuple[str, str]]:
    """A dotenv file (.env, .env.production, ...) that sets a secret-named variable."""
    if not _ENV_NAMES.search(path) or path.endswith(_ENV_TEMPLATES):
        return []
    names = sorted(
        {
            m.group(1).decode()
            for m in _ENV_LINE.finditer(data)
            if _SECRET_NAME.search(m.group(1).decode()) and _real(m.group(2).decode(errors="replace"))
        }
    )
    return [(ENV_FILE, f"a .env file setting {', '.join(names)}")] if names else []


def kubeconfig(path: str, data: bytes) -> list[tuple[str, str]]:
    if not path.endswith((".kube/config", ".yaml", ".yml", "kubeconfig")) or b"kind: Config" not in data:
        return []
    fields = sorted(
        {
            m.group(1).decode()
            for m in re.finditer(rb"^\s*(client-key-data|token|password|client-key):\s*(\S+)", data, re.M)
            if _real(m.group(2).decode(errors="replace"))
        }
    )
    return [(KUBECONFIG, f"a kubeconfig with user credentials ({', '.join(fields)})")] if fields else []


def npmrc(path: str, data: bytes) -> list[tuple[str, str]]:
    if not path.endswith(".npmrc"):
        return []
    m = re.search(rb"(?:_authToken|_auth|_password)\s*=\s*(\S+)", data)
    return [(NPMRC, "an .npmrc with a registry credential")] if m and _real(m.group(1).decode(errors="replace")) else []


def json_keys(data: bytes) -> list[tuple[str, str]]:
    """A Google service account key file, and private JSON Web Keys (JWT signing keys)."""
    found: list[tuple[str, str]] = []
    if b"service_account" in data and b"private_key" in data:
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("type") == "service_account" and doc.get("private_key"):
            found.append((SERVICE_ACCOUNT, f"a Google Cloud service account key ({doc.get('client_email', '?')})"))
    if b'"kty"' in data and b'"d"' in data:
        private = re.findall(rb'"d"\s*:\s*"[A-Za-z0-9_-]{20,}"', data)
        if private:
            found.append((JWT_KEY, f"{len(private)} private JSON Web Key(s)"))
    return found


def jwt_secrets(data: bytes) -> list[tuple[str, str]]:
    if b"jwt" not in data and b"JWT" not in data:
        return []
    values = {m.group(1) for m in _JWT_ASSIGN.finditer(data) if _real(m.group(1).decode(errors="replace"))}
    return [(JWT_KEY, f"{len(values)} JWT signing secret assignment(s)")] if values else []


def files(path: str, data: bytes) -> list[tuple[str, str]]:
    """(kind, detail) for the credential-holding files among these rules (tokens: tokens())."""
    shapes = env_file(path, data) + kubeconfig(path, data) + npmrc(path, data)
    return shapes + json_keys(data) + jwt_secrets(data)
