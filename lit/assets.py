"""Files LIT ships beside its code: Dockerfile.base and the runtime package.

From a source checkout they sit at the repository root; an installed wheel carries them in
lit/_assets (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def path(name: str) -> Path:
    for candidate in (_HERE / "_assets" / name, _HERE.parent / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"LIT asset {name} is missing from this installation; reinstall lit")
