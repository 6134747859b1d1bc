#!/bin/sh
# Trim the base image: what a Lambda function never reads at run time. Each step is safe for
# every model format LIT serves; `lit base build` smoke-tests the result (imports, decode, LAPACK).
set -eu
engine=${1:-mxnet}
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

if [ "$engine" = onnxruntime ]; then
  # The Python binding carries ONNX Runtime whole (its NEEDED list is libc, libstdc++ and libm
  # only); libonnxruntime.so is the same runtime again for C API users, 35 MB no Python code loads.
  rm -f "$SP"/onnxruntime/capi/libonnxruntime.so*
  # Offline tools (graph conversion, quantisation, transformer fusion) that `import onnxruntime`
  # never imports; LIT's build stage optimises graphs with the session itself.
  rm -rf "$SP"/onnxruntime/tools "$SP"/onnxruntime/quantization "$SP"/onnxruntime/transformers
  rm -f /opt/lit/bin/onnxruntime_test /opt/lit/bin/f2py /opt/lit/bin/numpy-config
  rm -rf "$SP"/numpy/_core/include "$SP"/numpy/f2py "$SP"/numpy/_pyinstaller
  find "$SP"/numpy "$SP"/onnxruntime -name "*.pyi" -delete
  # Pillow's modules for fonts, colour management, AVIF, Tk and image maths, with the libraries only
  # they load: the decoder (lit_runtime.pixels) opens JPEG, PNG, BMP, WebP, TIFF and PPM only.
  rm -f "$SP"/PIL/_avif.* "$SP"/PIL/_imagingft.* "$SP"/PIL/_imagingcms.* "$SP"/PIL/_imagingtk.* \
    "$SP"/PIL/_imagingmath.* "$SP"/PIL/_imagingmorph.*
  for lib in libavif libfreetype libharfbuzz libbrotlicommon libbrotlidec libpng16 liblcms2; do
    rm -f "$SP"/pillow.libs/"$lib"-*
  done
  # glibc's character-set converters (iconv): Python's codecs are its own, and C.UTF-8 is built in.
  rm -rf /usr/lib/*-linux-gnu/gconv
fi

# OS files no function reads: documentation, manuals, translations, package lists.
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian \
  /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/*
rm -rf /usr/lib/python3.11/test /usr/lib/python3.11/idlelib /usr/lib/python3.11/tkinter \
  /usr/lib/python3.11/lib2to3/tests
find / -xdev -name "*.pyc" -path "*/test/*" -delete 2>/dev/null || true
