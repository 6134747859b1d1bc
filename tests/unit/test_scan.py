"""The layer scanner on real tar files: keys, AWS credentials, credential files, CA bundles, config."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from lit import scan
from tests.fixtures.secrets import BEGIN, RNG, pem, planted, rand

pytestmark = pytest.mark.unit


def fake_key_id() -> str:
    return "AKIA" + "".join(RNG.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def fake_secret() -> str:
    return base64.b64encode(RNG.randbytes(30)).decode()  # 40 characters


def write_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def scan_layers(tmp_path: Path, *layers: dict[str, bytes]) -> list[tuple[str, str, str, str]]:
    detector = scan.Detector()
    archive = scan._Archive()
    for i, files in enumerate(layers):
        with write_tar(tmp_path / f"layer{i}.tar", files).open("rb") as f:
            scan._scan_layer(f, f"layer{i}", "r|", detector, archive)
    return detector.finish()


def kinds(found: list[tuple[str, str, str, str]]) -> set[tuple[str, str]]:
    return {(path, kind) for _, kind, path, _ in found}


def test_finds_a_private_key_an_aws_key_and_a_ca_bundle(tmp_path: Path) -> None:
    key_id = fake_key_id()
    settings = f'AWS_ACCESS_KEY_ID = "{key_id}"\naws_secret_access_key = {fake_secret()}\n'.encode()
    found = scan_layers(
        tmp_path,
        {
            "root/.ssh/id_rsa": pem("RSA PRIVATE KEY"),
            "./var/task/tls/server.key": pem("PRIVATE KEY"),
            "var/task/settings.py": settings,
            "tmp/lit/ca-bundle.crt": pem("CERTIFICATE") + pem("CERTIFICATE") + b"# marker\n",
            "etc/corp/roots.txt": pem("CERTIFICATE") + pem("CERTIFICATE") + pem("CERTIFICATE"),
            "usr/local/share/ca-certificates/proxy.crt": pem("CERTIFICATE"),
        },
    )
    assert kinds(found) == {
        ("root/.ssh/id_rsa", scan.PRIVATE_KEY),
        ("var/task/tls/server.key", scan.PRIVATE_KEY),
        ("var/task/settings.py", scan.AWS_KEY_ID),
        ("var/task/settings.py", scan.AWS_SECRET),
        ("tmp/lit/ca-bundle.crt", scan.CA_BUNDLE),
        ("etc/corp/roots.txt", scan.CA_BUNDLE),
        ("usr/local/share/ca-certificates/proxy.crt", scan.CA_BUNDLE),
    }
    details = " ".join(d for *_, d in found)
    assert "LIT's build-time CA bundle" in details and key_id not in details  # never print the key itself


def test_credential_files_by_name(tmp_path: Path) -> None:
    docker_login = json.dumps({"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}}}).encode()
    found = scan_layers(
        tmp_path,
        {
            "root/.aws/credentials": b"[default]\nregion = us-east-1\n",
            "home/u/.netrc": b"machine example.com login u password p\n",
            "root/.pypirc": b"[pypi]\nusername = __token__\n",
            "root/.docker/config.json": docker_login,
            "home/u/.docker/config.json": json.dumps({"auths": {}, "credsStore": "pass"}).encode(),
            "root/.git-credentials": b"",  # empty: nothing in it
        },
    )
    assert kinds(found) == {
        ("root/.aws/credentials", scan.CREDENTIALS),
        ("home/u/.netrc", scan.CREDENTIALS),
        ("root/.pypirc", scan.CREDENTIALS),
        ("root/.docker/config.json", scan.CREDENTIALS),
    }


def test_public_and_distro_bundles_and_documentation_keys_are_allowed(tmp_path: Path) -> None:
    a, b = pem("CERTIFICATE"), pem("CERTIFICATE")
    found = scan_layers(
        tmp_path,
        {
            "usr/share/ca-certificates/mozilla/A.crt": a,
            "usr/share/ca-certificates/mozilla/B.crt": b,
            "etc/ssl/certs/ca-certificates.crt": a + b,
            "opt/lit/lib/python3.11/site-packages/certifi/cacert.pem": pem("CERTIFICATE") * 3,
            "opt/lit/lib/python3.11/site-packages/pip/_vendor/certifi/cacert.pem": pem("CERTIFICATE") * 3,
            "usr/share/doc/aws.md": b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            "usr/lib/python3/crypto.py": f'HEADER = "{BEGIN}RSA PRIVATE KEY-----"\n'.encode(),  # a marker, no key
            "usr/share/zoneinfo/tzdata.zi": b"Z ASIA/Kolkata 5:30\n",
        },
    )
    assert found == []


def test_a_distro_bundle_with_a_foreign_certificate_is_reported(tmp_path: Path) -> None:
    a, b, proxy = pem("CERTIFICATE"), pem("CERTIFICATE"), pem("CERTIFICATE")
    found = scan_layers(
        tmp_path,
        {"usr/share/ca-certificates/mozilla/A.crt": a, "usr/share/ca-certificates/mozilla/B.crt": b},
        {"etc/ssl/certs/ca-certificates.crt": a + b + proxy},  # e.g. the host's bundle copied over it
    )
    assert [(layer, kind, path) for layer, kind, path, _ in found] == [
        ("layer1", scan.CA_BUNDLE, "etc/ssl/certs/ca-certificates.crt")
    ]
    assert "1 of its 3 certificates" in found[0][3]


def test_files_are_judged_by_content_not_name(tmp_path: Path) -> None:
    key = pem("EC PRIVATE KEY")
    found = scan_layers(
        tmp_path,
        {
            "opt/lib/libthing.so": b"\x7fELF\x02\x01\x01" + key,  # a real shared object: not searched
            "opt/lib/logo.png": b"\x89PNG\r\n\x1a\n" + key,
            "opt/lib/libthing.so.1.2": key,  # text, whatever its name says
            "var/task/model/net-0000.params": key,
            "var/task/creds.png": key,
            "var/task/big.txt": key + b"x" * scan.MAX_TEXT,
            "var/task/small.txt": key,
        },
    )
    assert kinds(found) == {
        (p, scan.PRIVATE_KEY)
        for p in (
            "opt/lib/libthing.so.1.2",
            "var/task/model/net-0000.params",
            "var/task/creds.png",
            "var/task/small.txt",
        )
    }


def test_secrets_in_bytecode_compressed_files_and_nested_archives_are_found(tmp_path: Path) -> None:
    import bz2
    import gzip
    import lzma
    import py_compile
    import zipfile

    import zstandard

    key_id, key = fake_key_id(), pem("RSA PRIVATE KEY")
    source = tmp_path / "settings.py"
    source.write_text(f"KEY_ID = {key_id!r}\nKEY = {key.decode()!r}\n")
    pyc = Path(py_compile.compile(str(source), cfile=str(tmp_path / "settings.pyc"))).read_bytes()
    inner_tar = io.BytesIO()
    with tarfile.open(fileobj=inner_tar, mode="w") as tar:
        info = tarfile.TarInfo("home/app/.aws/credentials")
        body = f"[default]\naws_access_key_id = {fake_key_id()}\n".encode()
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/conf.py", f"TOKEN_ID = {fake_key_id()!r}\n")
        zf.writestr("pkg/data.tar.gz", gzip.compress(inner_tar.getvalue()))  # a tar.gz inside a wheel
    found = scan_layers(
        tmp_path,
        {
            "usr/lib/python3.11/site-packages/app/__pycache__/settings.cpython-311.pyc": pyc,
            "var/task/backup.tar.gz": gzip.compress(inner_tar.getvalue()),
            "var/task/key.pem.gz": gzip.compress(key),
            "var/task/key.bz2": bz2.compress(key),
            "var/task/key.xz": lzma.compress(key),
            "var/task/key.zst": zstandard.ZstdCompressor().compress(key),
            "var/task/pkg-1.0-py3-none-any.whl": wheel.getvalue(),
            "var/task/broken.gz": b"\x1f\x8b" + key,  # not gzip after all: searched as it is
        },
    )
    pyc_path = "usr/lib/python3.11/site-packages/app/__pycache__/settings.cpython-311.pyc"
    assert {(pyc_path, scan.PRIVATE_KEY), (pyc_path, scan.AWS_KEY_ID)} <= kinds(found)
    assert ("var/task/backup.tar.gz!!/home/app/.aws/credentials", scan.CREDENTIALS) in kinds(found)
    for name in ("key.pem.gz", "key.bz2", "key.xz", "key.zst"):
        assert (f"var/task/{name}!", scan.PRIVATE_KEY) in kinds(found), name
    assert ("var/task/pkg-1.0-py3-none-any.whl!/pkg/conf.py", scan.AWS_KEY_ID) in kinds(found)
    nested = "var/task/pkg-1.0-py3-none-any.whl!/pkg/data.tar.gz!!/home/app/.aws/credentials"
    assert (nested, scan.CREDENTIALS) in kinds(found)
    assert ("var/task/broken.gz", scan.PRIVATE_KEY) in kinds(found)


def test_nesting_is_bounded(tmp_path: Path) -> None:
    import gzip

    from lit import scan_unpack

    data = pem("EC PRIVATE KEY")
    for _ in range(scan_unpack.MAX_DEPTH + 3):
        data = gzip.compress(data)
    found = list(scan_unpack.unpack("deep.gz", data))
    assert len(found) == 1 and found[0][1][:2] == b"\x1f\x8b", "past MAX_DEPTH the data is searched as it is"


def test_config_env_labels_and_build_args() -> None:
    key_id = fake_key_id()
    config = {
        "config": {
            "Env": ["PATH=/usr/bin", "API_TOKEN=abc123", "GOOGLE_APPLICATION_CREDENTIALS=/var/task/sa.json", "X=1"],
            "Labels": {"lit.function": "digits", "deploy.password": "hunter2"},
        },
        "history": [
            {"created_by": "/bin/sh -c #(nop) COPY dir:abc in / "},
            {"created_by": "|2 NPM_TOKEN=s3cr3t OS=bookworm /bin/sh -c npm install", "empty_layer": False},
            {"created_by": f"/bin/sh -c #(nop)  ENV AWS_ACCESS_KEY_ID={key_id}", "empty_layer": True},
            {"created_by": "/bin/sh -c #(nop)  ENV API_TOKEN=abc123", "empty_layer": True},  # same as Env: once
        ],
    }
    found = {(f.path, f.kind) for f in scan.config_findings(config)}
    assert found == {
        ("Env API_TOKEN", scan.CONFIG_SECRET),
        ("Label deploy.password", scan.CONFIG_SECRET),
        ("history[1] build arg NPM_TOKEN", scan.CONFIG_SECRET),
        ("history[2] ENV AWS_ACCESS_KEY_ID", scan.CONFIG_SECRET),
        ("history[2] ENV AWS_ACCESS_KEY_ID", scan.AWS_KEY_ID),
    }


def _diff_id(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _saved_image(tmp_path: Path, layers: list[dict[str, bytes]], oci: bool) -> Path:
    """A `docker save` archive: Docker 20.10's layout (ID/layer.tar) or the OCI layout of Docker 25+."""
    blobs = []
    for i, files in enumerate(layers):
        blobs.append(write_tar(tmp_path / f"l{i}.tar", files).read_bytes())
    steps = [f"/bin/sh -c #(nop) COPY step {i}" for i in range(len(blobs))]
    config = {
        "rootfs": {"type": "layers", "diff_ids": [_diff_id(b) for b in blobs]},
        "history": [{"created_by": s} for s in steps] + [{"created_by": "CMD", "empty_layer": True}],
        "config": {"Env": ["PATH=/bin"]},
    }
    config_bytes = json.dumps(config).encode()
    members: dict[str, bytes] = {}
    if oci:
        names = [f"blobs/sha256/{hashlib.sha256(b).hexdigest()}" for b in blobs]
        config_name = f"blobs/sha256/{hashlib.sha256(config_bytes).hexdigest()}"
    else:
        names = [f"{hashlib.sha256(str(i).encode()).hexdigest()}/layer.tar" for i in range(len(blobs))]
        config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    for name, blob in sorted(zip(names, blobs)):  # the engine writes layers by id, not in order
        members[name] = blob
    members[config_name] = config_bytes
    members["manifest.json"] = json.dumps([{"Config": config_name, "Layers": names}]).encode()
    return write_tar(tmp_path / "image.tar", members)


@pytest.mark.parametrize("oci", [False, True], ids=["docker-layout", "oci-layout"])
def test_a_deleted_file_is_found_in_the_layer_that_added_it(tmp_path: Path, oci: bool) -> None:
    key = pem("OPENSSH PRIVATE KEY")
    image = _saved_image(
        tmp_path,
        [
            {"etc/hostname": b"x\n"},
            {"root/.ssh/id_ed25519": key},
            {"root/.ssh/.wh.id_ed25519": b""},  # the next layer deletes it
            {},  # an empty layer (a step that changed nothing)
        ],
        oci,
    )
    detector = scan.Detector()
    with image.open("rb") as f:
        archive = scan.scan_archive(f, detector)
    [finding] = scan.resolve(archive, detector.finish())
    assert finding.kind == scan.PRIVATE_KEY and finding.path == "/root/.ssh/id_ed25519"
    assert finding.index == 1 and finding.step == "/bin/sh -c #(nop) COPY step 1"
    assert finding.layer == _diff_id((tmp_path / "l1.tar").read_bytes())
    assert archive.files == 3 and not archive.unscanned


def test_cloud_tokens_and_credential_files_are_found_each_in_its_file(tmp_path: Path) -> None:
    files = planted()
    found = scan_layers(tmp_path, {path: data for path, (data, _, _) in files.items()})
    by_path: dict[str, list[tuple[str, str]]] = {}
    for _, kind, path, detail in found:
        by_path.setdefault(path, []).append((kind, detail))
    for path, (_, kind, word) in files.items():
        assert any(k == kind and word in d for k, d in by_path.get(path, [])), (path, by_path.get(path))
    # the service account's key is also named as a key inside a string
    assert any("newlines escaped" in d for _, d in by_path["app/gcp.json"])


def test_lookalikes_and_placeholders_are_not_secrets(tmp_path: Path) -> None:
    files = {
        "app/.env.example": b"DB_PASSWORD=secret-goes-here\n",
        "app/.env": b"DB_PASSWORD=\nAPI_KEY=changeme\nTOKEN=${TOKEN}\nNAME=demo\n",
        "app/notes.md": b"npm_config_cache and ghp_short and sk_test_" + rand(24).encode() + b" (a test key)\n",
        "app/b64.txt": base64.encodebytes(RNG.randbytes(20000)),  # random base64: no token inside a run
        "app/settings.py": b'JWT_SECRET = os.environ["JWT_SECRET"]\njwt_secret: "<your secret>"\n',
        "root/.kube/config": b"apiVersion: v1\nkind: Config\nusers:\n- name: sso\n  user:\n    exec:\n      command: aws\n",
        "app/jwk.json": json.dumps({"kty": "RSA", "n": rand(80), "e": "AQAB"}).encode(),  # a public key
    }
    assert scan_layers(tmp_path, files) == []


def test_config_env_tokens_are_found() -> None:
    token = "ghp_" + rand(36)
    found = scan.config_findings({"config": {"Env": [f"GH={token}", "PATH=/usr/bin"]}})
    assert [(f.kind, f.path) for f in found] == [("token", "Env GH")]


def test_zstd_layers_are_read(tmp_path: Path) -> None:
    import zstandard

    key = pem("OPENSSH PRIVATE KEY")
    plain = write_tar(tmp_path / "l.tar", {"root/.ssh/id_ed25519": key}).read_bytes()
    blob = zstandard.ZstdCompressor().compress(plain)
    members = {
        "blobs/sha256/" + hashlib.sha256(blob).hexdigest(): blob,
        "manifest.json": json.dumps(
            [{"Config": "c.json", "Layers": ["blobs/sha256/" + hashlib.sha256(blob).hexdigest()]}]
        ).encode(),
        "c.json": json.dumps(
            {"rootfs": {"diff_ids": ["sha256:" + hashlib.sha256(plain).hexdigest()]}, "history": []}
        ).encode(),
    }
    image = write_tar(tmp_path / "image.tar", members)
    detector = scan.Detector()
    with image.open("rb") as f:
        archive = scan.scan_archive(f, detector)
    [finding] = scan.resolve(archive, detector.finish())
    assert finding.kind == scan.PRIVATE_KEY and finding.path == "/root/.ssh/id_ed25519" and not archive.unscanned
