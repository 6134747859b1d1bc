#!/bin/sh
# Trim the base image: what a Lambda function never reads at run time. Each step is safe for
# every model format LIT serves; `lit base build` smoke-tests the result (imports, decode, LAPACK).
set -eu
SP=/opt/lit/lib/python3.11/site-packages

# Build-only Python tools and data files. (Function builds that add requirements get pip back
# with ensurepip in a throwaway build stage.)
rm -rf "$SP"/pip "$SP"/pip-*.dist-info /opt/lit/bin/pip* "$SP"/setuptools* "$SP"/_distutils_hack "$SP"/pkg_resources "$SP"/distutils-precedence.pth
rm -rf "$SP"/cv2/data "$SP"/mxnet/include "$SP"/numpy/core/include "$SP"/numpy/random/lib "$SP"/numpy/distutils
find "$SP" -depth -type d -name tests -path "*numpy*" -exec rm -rf {} +

# opencv's wheel bundles a second OpenBLAS (0.3.3, LP64) only for its LAPACK calls; mxnet's
# libopenblas.so.0 exports every symbol cv2 imports from it (checked with nm when the pins were
# set), so one copy serves both. `lit base build` runs cv2's LAPACK paths after this.
for lib in "$SP"/opencv_python_headless.libs/libopenblas-*.so; do
  [ -e "$lib" ] && [ -e "$SP"/mxnet/libopenblas.so.0 ] || continue
  ln -sf ../mxnet/libopenblas.so.0 "$lib"
  # its $ORIGIN is now this folder: give it mxnet's libgfortran here too
  ln -sf ../mxnet/libgfortran.so.3 "$(dirname "$lib")"/libgfortran.so.3
done

# OS files no function reads: documentation, manuals, translations, package lists.
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian \
  /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/*
rm -rf /usr/lib/python3.11/test /usr/lib/python3.11/idlelib /usr/lib/python3.11/tkinter \
  /usr/lib/python3.11/lib2to3/tests
find / -xdev -name "*.pyc" -path "*/test/*" -delete 2>/dev/null || true
