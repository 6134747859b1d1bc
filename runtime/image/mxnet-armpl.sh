#!/bin/sh
# mxnet 1.9.1's aarch64 wheel links Arm Performance Libraries (libarmpl_lp64_mp, libamath,
# libastring) that it does not carry and that no package index serves. Every symbol libmxnet
# imports from them is a BLAS, LAPACK or LAPACKE one, which Debian's OpenBLAS (its OpenMP build,
# like ArmPL's _mp) and LAPACKE export, or a math or string function glibc has (checked with nm
# when the pins were set). So libmxnet is pointed at those instead; the smoke test then runs a
# GEMM, and the loader refuses any symbol left unresolved. Nothing to do on x86_64, whose wheel
# carries its own OpenBLAS.
set -eu
lib=/opt/lit/lib/python3.11/site-packages/mxnet/libmxnet.so
[ -f "$lib" ] && [ "$(uname -m)" = aarch64 ] || exit 0
needed=$(patchelf --print-needed "$lib")
case "$needed" in *libarmpl_lp64_mp.so*) ;; *) exit 0 ;; esac
patchelf --replace-needed libarmpl_lp64_mp.so libopenblas.so.0 "$lib"
patchelf --remove-needed libamath.so "$lib"
patchelf --remove-needed libastring.so "$lib"
patchelf --add-needed liblapacke.so.3 "$lib"
dpkg --purge patchelf >/dev/null  # a build tool
