#!/usr/bin/env bash
# The other model servers' own tools, for the tests of `lit init --from ARCHIVE` (.mar):
# Java (Multi Model Server's frontend) and a venv with Multi Model Server, its MXNet backend,
# model-archiver and torch-model-archiver. Idempotent: a second run checks and returns in well
# under a second. Run as root (apt-get).
#   bash scripts/mms.sh        # -> $LIT_MMS_VENV, default .venv-mms
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${LIT_MMS_VENV:-$ROOT/.venv-mms}
REQS=scripts/requirements-mms.txt
TMA_VERSION=0.12.0  # torch-model-archiver
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! command -v java >/dev/null; then
  say "installing Java (Multi Model Server's frontend)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
fi

if [ ! -x "$VENV/bin/multi-model-server" ] || [ "$REQS" -nt "$VENV/.lit-installed" ] || [ scripts/mms.sh -nt "$VENV/.lit-installed" ]; then
  say "creating the model server environment in $VENV (Multi Model Server, MXNet, the archivers)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  # TorchServe's archiver ships a package of the same name (model_archiver): kept in its own
  # folder, run as PYTHONPATH=$VENV/torch-model-archiver python -m model_archiver.model_packaging
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade --target "$VENV/torch-model-archiver" \
    "torch-model-archiver==$TMA_VERSION"
  touch "$VENV/.lit-installed"
fi
