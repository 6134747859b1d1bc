"""One project exception type: the CLI turns it into one message and a non-zero exit."""

from __future__ import annotations


class LitError(Exception):
    """Where it happened, what failed, and what to do about it."""

    exit_code = 1

    def __init__(self, what: str, fix: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.what}\n  fix: {self.fix}" if self.fix else self.what


class ConfigError(LitError):
    """lit.toml is missing, malformed or incomplete (exit 2)."""

    exit_code = 2


class EngineError(LitError):
    """The Docker engine is missing, unreachable, or refused an operation (exit 3)."""

    exit_code = 3


class AwsError(LitError):
    """An AWS call failed: no credentials, wrong region, access denied, a resource in a bad state (exit 4)."""

    exit_code = 4
    code = ""  # AWS's error code, when AWS answered one
