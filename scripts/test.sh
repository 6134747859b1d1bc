#!/usr/bin/env bash
# The whole test suite, as CI runs it: set up what is missing, then every tier
# (unit, functional, e2e on the real Docker engine). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-base
VENV=${LIT_VENV:-$PWD/.venv}
"$VENV/bin/ruff" check lit runtime tests benchmarks
"$VENV/bin/ruff" format --check lit runtime tests benchmarks
"$VENV/bin/mypy"  # strict, on lit/ and runtime/ (pyproject.toml)
exec "$VENV/bin/python" -m pytest -p no:cacheprovider -W ignore::DeprecationWarning "$@"
