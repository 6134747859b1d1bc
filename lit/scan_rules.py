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


# A match must not be the middle of a longer run (base64 text, hashes): checked on the byte before
# it rather than with a lookbehind, which would cost re its fast literal search.
_RUN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/-")
_E = r"(?![A-Za-z0-9_-])"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[bytes]  # starts with a literal, so that re finds candidates at memchr speed
    before: tuple[bytes, ...] = (b"",)  # what must come right before the match (then a run's end)
    bounded: bool = True  # whether the match (with `before`) must start a run

    def matches(self, data: bytes) -> set[bytes]:
        found = set()
        for m in self.pattern.finditer(data):
            head = next((b for b in self.before if data[max(0, m.start() - len(b)) : m.start()] == b), None)
            if head is None:
                continue
            start = m.start() - len(head)
            if not self.bounded or start == 0 or data[start - 1] not in _RUN:
                found.add(head + m.group(0))
        return found


def _rule(name: str, pattern: str, before: tuple[bytes, ...] = (b"",), bounded: bool = True) -> Rule:
    return Rule(name, re.compile(pattern.encode()), before, bounded)


RULES = (
    _rule("GitHub token (classic personal, OAuth, app or refresh)", r"gh[pousr]_[A-Za-z0-9]{36}" + _E),
    _rule("GitHub fine-grained personal access token", r"github_pat_[A-Za-z0-9_]{82}" + _E),
    _rule("GitLab token", r"gl(?:pat|rt)-[A-Za-z0-9_-]{20,}" + _E),
    _rule("Slack token", r"xox[abposr]-(?:[0-9]{8,}-){1,3}[A-Za-z0-9-]{8,}" + _E),
    _rule(
        "Slack webhook URL",
        r"hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,}/[A-Z0-9]{6,}/[A-Za-z0-9]{16,}",
        bounded=False,
    ),
    _rule("Stripe live secret key", r"_live_[A-Za-z0-9]{24,}" + _E, before=(b"sk", b"rk")),
    _rule("npm access token", r"npm_[A-Za-z0-9]{36}" + _E),
    _rule("PyPI upload token", r"pypi-AgE[A-Za-z0-9_-]{50,}"),
    _rule(
        "Azure storage connection string (account key)",
        r"AccountName=[a-z0-9]{3,24};AccountKey=[A-Za-z0-9+/]{86}==",
        bounded=False,
    ),
    _rule("Google API key", r"AIza[A-Za-z0-9_-]{35}" + _E),
)


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
        n = len(rule.matches(data))
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
