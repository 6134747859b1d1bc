"""`lit init --from ARCHIVE`'s common part (lit/archive.py): format detection, safe unpacking, and the
errors for archives that are not one, through the CLI as a user runs it."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from lit import archive
from lit.errors import AwsError, ConfigError
from tests.conftest import lit


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, files: dict[str, bytes], link: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tf.addfile(info)
    return path


def test_formats_are_told_apart_by_content(tmp_path: Path) -> None:
    mar = _zip(tmp_path / "a.zip", {archive.MANIFEST: b"{}", "x.py": b""})
    assert archive.detect(mar) == "mar"
    assert archive.detect(_tar(tmp_path / "model.bin", {"code/inference.py": b""})) == "sagemaker"
    with pytest.raises(ConfigError, match="a zip without MAR-INF/MANIFEST.json"):
        archive.detect(_zip(tmp_path / "b.mar", {"model.onnx": b""}))
    (tmp_path / "c.mar").write_bytes(b"not an archive at all")
    with pytest.raises(ConfigError, match=r"neither a zip \(.mar\) nor a tar"):
        archive.detect(tmp_path / "c.mar")


@pytest.mark.parametrize(
    ("member", "needle"),
    [("../escape.py", "would unpack outside"), ("/etc/escape.py", "would unpack outside")],
)
def test_members_that_would_land_outside_are_refused(tmp_path: Path, member: str, needle: str) -> None:
    for path in (
        _zip(tmp_path / "a.mar", {archive.MANIFEST: b"{}", member: b"x"}),
        _tar(tmp_path / "a.tar.gz", {member: b"x"}),
    ):
        with pytest.raises(ConfigError, match=needle):
            archive.unpack(path, tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()


def test_links_and_oversize_archives_are_refused(tmp_path: Path) -> None:
    linked = _tar(tmp_path / "l.tar.gz", {"model.onnx": b"x"}, link=("code", "/etc"))
    with pytest.raises(ConfigError, match="'code' is a link or a device"):
        archive.unpack(linked, tmp_path / "out")
    big = _tar(tmp_path / "b.tar.gz", {"a": b"x" * 600, "b": b"y" * 600})
    with pytest.raises(ConfigError, match="unpacks to more than"):
        archive.unpack(big, tmp_path / "out2", limit=1000)


def test_unpacked_files_keep_their_bytes_and_folders(tmp_path: Path) -> None:
    files = {"code/inference.py": b"def model_fn(d):\n    return d\n", "model.onnx": bytes(range(256))}
    archive.unpack(_tar(tmp_path / "m.tar.gz", files), tmp_path / "t")
    archive.unpack(_zip(tmp_path / "m.mar", files), tmp_path / "z")
    for name, data in files.items():
        assert (tmp_path / "t" / name).read_bytes() == data
        assert (tmp_path / "z" / name).read_bytes() == data


def test_the_cli_names_cause_and_fix_and_leaves_no_half_project(tmp_path: Path) -> None:
    bad = _zip(tmp_path / "nomanifest.mar", {"model.onnx": b"x", "handler.py": b""})
    proc = lit("init", str(tmp_path / "p"), "--from", str(bad))
    assert proc.returncode == 2, proc.stderr
    assert "zip without MAR-INF/MANIFEST.json" in proc.stderr and "model-archiver" in proc.stderr
    assert not (tmp_path / "p" / "lit.toml").exists()
    junk = tmp_path / "model.pt"
    junk.write_bytes(b"\x80\x02not a zip")
    proc = lit("init", str(tmp_path / "q"), "--from", str(junk), "--json")  # neither a model nor an archive
    assert proc.returncode == 1 and "nor a zip or tar archive" in proc.stderr and proc.stdout == ""
    assert "a Model Server .mar, a SageMaker model.tar.gz" in proc.stderr


def test_an_s3_archive_is_streamed_through_the_model_buckets_client(aws: str, tmp_path: Path) -> None:
    import uuid

    import boto3

    from lit.aws import S3Client, session

    bucket = f"archives-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    data = _tar(tmp_path / "model.tar.gz", {"code/inference.py": b"x" * 100_000, "model.onnx": b"m"}).read_bytes()
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=bucket, Key="sm/v1/model.tar.gz", Body=data)
    client = S3Client(session("us-east-1"))
    got = archive.local_copy(f"s3://{bucket}/sm/v1/model.tar.gz", tmp_path / "dl", lambda: client)
    assert got.name == "model.tar.gz" and got.read_bytes() == data and archive.detect(got) == "sagemaker"
    with pytest.raises(AwsError, match="there is no such object"):
        archive.local_copy(f"s3://{bucket}/sm/v2/model.tar.gz", tmp_path / "dl", lambda: client)
    with pytest.raises(ConfigError, match="names no object"):
        archive.local_copy(f"s3://{bucket}/", tmp_path / "dl", lambda: client)
    proc = lit("init", str(tmp_path / "p"), "--from", f"s3://{bucket}/sm/missing.mar", "--region", "us-east-1")
    assert proc.returncode == 4 and "there is no such object" in proc.stderr, proc.stderr
