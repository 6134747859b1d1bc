#!/usr/bin/env bash
# Set up a Debian machine for LIT, idempotently: OS packages, a Docker engine (started when none
# answers), the Python environment in .venv, the example model, and (unless --no-base) the base image.
# --demo installs only what scripts/demo.sh runs (no test tools, no PyTorch export environment).
# Run as root (or with sudo). Safe to re-run: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASE=1 DEMO=0
for arg in "$@"; do
  case "$arg" in
    --no-base) BASE=0 ;;
    --demo) DEMO=1 ;;
    *) echo "usage: $0 [--no-base] [--demo]" >&2; exit 2 ;;
  esac
done
VENV=${LIT_VENV:-$ROOT/.venv}
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_apt=()
command -v mmdebstrap >/dev/null || need_apt+=(mmdebstrap)
command -v dockerd >/dev/null || need_apt+=(docker.io)
# The e2e tier's stand-in for ECR: a real registry (TLS, htpasswd) on 127.0.0.1.
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
command -v openssl >/dev/null || need_apt+=(openssl)
# The e2e tier's check of what a person sees on a terminal (live progress), in a real pseudo-terminal.
[ "$DEMO" = 1 ] || command -v tmux >/dev/null || need_apt+=(tmux)
# arm64 (Graviton) images, built and run here under QEMU user emulation; arch-test lets mmdebstrap
# bootstrap a foreign OS layer.
if [ "$DEMO" = 0 ] && [ "$(uname -m)" = x86_64 ]; then
  [ -x /usr/bin/qemu-aarch64-static ] || need_apt+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need_apt+=(binfmt-support)
  command -v arch-test >/dev/null || need_apt+=(arch-test)
fi
# Real labelled text for the text example (topic files under /usr/share/games/fortunes).
[ -f /usr/share/games/fortunes/computers ] || need_apt+=(fortunes)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}" ca-certificates
fi

if [ "$DEMO" = 0 ] && [ "$(uname -m)" = x86_64 ] && ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  say "registering QEMU for arm64 binaries (binfmt_misc)"
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  say "starting the Docker engine (log: /var/log/lit-dockerd.log)"
  if command -v systemctl >/dev/null && systemctl start docker 2>/dev/null; then :; else
    setsid nohup dockerd >/var/log/lit-dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker version --format 'Docker engine {{.Server.Version}} is up' || { tail -20 /var/log/lit-dockerd.log; exit 1; }
fi

# The full set (tests, plots, plans) marks .lit-installed; the demo's own, .lit-installed-demo.
if [ "$DEMO" = 1 ]; then EXTRAS=train MARK=.lit-installed-demo; else EXTRAS=train,dev,plot,plan MARK=.lit-installed; fi
installed() { [ -f "$VENV/$1" ] && [ ! pyproject.toml -nt "$VENV/$1" ] && [ ! runtime/pyproject.toml -nt "$VENV/$1" ]; }
if [ ! -x "$VENV/bin/lit" ] || ! { installed "$MARK" || installed .lit-installed; }; then
  say "creating the Python environment in $VENV ($EXTRAS)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  # numpy 1.23.5 is pinned in the same command: anything that pulls numpy 2 breaks mxnet 1.9.1.
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[$EXTRAS]" -e runtime "numpy==1.23.5"
  touch "$VENV/$MARK"
fi

EXPORT_VENV=${LIT_EXPORT_VENV:-$ROOT/.venv-export}
if [ "$DEMO" = 0 ] && { [ ! -x "$EXPORT_VENV/bin/python" ] || [ scripts/requirements-export.txt -nt "$EXPORT_VENV/.lit-installed" ]; }; then
  say "creating the export environment in $EXPORT_VENV (PyTorch and its default ONNX exporter)"
  python3 -m venv "$EXPORT_VENV"
  "$EXPORT_VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-export.txt
  touch "$EXPORT_VENV/.lit-installed"
fi

# Multi Model Server (with Java) and the model archivers, for the tests of `lit init --from X.mar`.
if [ "$DEMO" = 0 ]; then
  bash scripts/mms.sh
fi

if [ ! -f images/digits/model/digits-0000.params ] || [ ! -f images/digits/heldout/labels.json ]; then
  say "training the example model (scikit-learn's 8x8 digits, a few seconds)"
  "$VENV/bin/python" images/digits/train.py
fi

if [ "$BASE" = 1 ]; then
  say "building the base image (cached after the first time)"
  "$VENV/bin/lit" base build -q
fi
