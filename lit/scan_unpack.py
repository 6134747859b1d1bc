"""What secrets hide in, for `lit scan`: files are judged by their content, not their names.

Compressed files (gzip, bzip2, xz, zstd) are decompressed, and archives (tar, zip, wheels) are walked,
nested up to MAX_DEPTH deep, each member up to MAX_UNPACKED bytes; `.pyc` files are searched as they
are (marshal keeps string constants verbatim). What is a binary by its first bytes (ELF objects,
images, .npy arrays, fonts, WebAssembly) is not searched, whatever its name: a text renamed
`creds.png` is.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 3  # archives inside archives
MAX_UNPACKED = 64 * 2**20  # bytes read out of one compressed member
MAX_MEMBERS = 10_000  # members read out of one archive
OPAQUE = (
    b"\x7fELF", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"\x93NUMPY", b"\x00asm",
    b"wOFF", b"wOF2", b"\x00\x01\x00\x00\x00", b"OTTO",
)  # fmt: skip
ZSTD = b"\x28\xb5\x2f\xfd"


def _read(stream: Any) -> bytes:
    """Up to MAX_UNPACKED bytes of a (decompressing) file object."""
    data: bytes = stream.read(MAX_UNPACKED)
    return data


def _decompressed(data: bytes) -> bytes | None:
    buf = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        return _read(gzip.GzipFile(fileobj=buf))
    if data[:3] == b"BZh":
        return _read(bz2.BZ2File(buf))
    if data[:6] == b"\xfd7zXZ\x00":
        return _read(lzma.LZMAFile(buf))
    if data[:4] == ZSTD:
        import zstandard

        return _read(zstandard.ZstdDecompressor().stream_reader(buf))
    return None


def _members(data: bytes) -> Iterator[tuple[str, bytes]] | None:
    if data[:4] == b"PK\x03\x04":
        return _zip(data)
    if len(data) > 262 and data[257:262] == b"ustar":
        return _tar(data)
    return None


def _zip(data: bytes) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist()[:MAX_MEMBERS]:
            if not info.is_dir() and 0 < info.file_size:
                with archive.open(info) as member:
                    yield info.filename, _read(member)


def _tar(data: bytes) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for count, entry in enumerate(archive):
            if count >= MAX_MEMBERS:
                return
            handle = archive.extractfile(entry) if entry.isreg() and entry.size > 0 else None
            if handle is not None:
                yield entry.name, _read(handle)


def unpack(path: str, data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """Each (path, bytes) to search: the data itself, or what it decompresses or unpacks to; a
    member's path is its archive's, then "!/" and its own."""
    if depth <= MAX_DEPTH:
        try:
            inner = _decompressed(data)
            if inner is not None:
                yield from unpack(path + "!", inner, depth + 1)
                return
            members = _members(data)
            if members is not None:
                for name, body in members:
                    yield from unpack(f"{path}!/{name.lstrip('/')}", body, depth + 1)
                return
        except (OSError, EOFError, ValueError, lzma.LZMAError, zipfile.BadZipFile, tarfile.TarError):
            pass  # not what its first bytes claimed: searched as it is
        except Exception as exc:  # zstandard's ZstdError and the like
            if type(exc).__module__.split(".")[0] != "zstandard":
                raise
    if not data.startswith(OPAQUE):
        yield path, data
