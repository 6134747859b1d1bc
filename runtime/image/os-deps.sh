#!/bin/sh
# OS packages the base image needs from its OS layer. The bootstrapped OS layer has them already;
# a public image (--from) may not, and is fixed here with apt (plain HTTP to the Debian archive).
set -eu
engine=${1:-mxnet}
need=""
if [ "$engine" = mxnet ]; then
  ldconfig -p | grep -q 'libgomp.so.1 ' || need="$need libgomp1"          # mxnet's OpenMP
  # mxnet's libgfortran (x86_64 only: aarch64 has no libquadmath, and its wheel needs none)
  [ "$(uname -m)" != x86_64 ] || ldconfig -p | grep -q 'libquadmath.so.0 ' || need="$need libquadmath0"
  if [ "$(uname -m)" = aarch64 ]; then  # what stands in for Arm's libraries (see mxnet-armpl.sh)
    ldconfig -p | grep -q 'libopenblas.so.0 ' || need="$need libopenblas0-openmp"
    ldconfig -p | grep -q 'liblapacke.so.3 ' || need="$need liblapacke"
    command -v patchelf >/dev/null || need="$need patchelf"
  fi
fi
# usrmerge is a one-time conversion tool that drags in 47 MB of Perl; usr-is-merged replaces it.
dpkg -s usrmerge >/dev/null 2>&1 && need="$need usr-is-merged"
[ -n "$need" ] || exit 0
command -v apt-get >/dev/null || { echo "OS image lacks:$need and has no apt-get; use a Debian-based image" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $need
if dpkg -s usrmerge >/dev/null 2>&1; then
  apt-get purge -y -q usrmerge
  apt-get purge -y -q --auto-remove perl libperl5.36 perl-modules-5.36 2>/dev/null || true
fi
rm -rf /var/lib/apt/lists/*
