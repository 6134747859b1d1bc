"""The `lit` command: thin wiring over the core modules. No MXNet, numpy or OpenCV here."""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from . import __version__
from .errors import LitError

app = typer.Typer(
    help="LIT: serve trained models on AWS Lambda from container images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
base_app = typer.Typer(help="The base image every function image starts from.", no_args_is_help=True)
app.add_typer(base_app, name="base")
model_app = typer.Typer(help="Models kept in a model bucket (S3), fetched at cold start.", no_args_is_help=True)
app.add_typer(model_app, name="model")

ProjectDir = Annotated[Path, typer.Argument(help="Function project directory (holds lit.toml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of text.")]
PortOpt = Annotated[int, typer.Option(help="Port on 127.0.0.1 for the local endpoint.", envvar="LIT_PORT")]


def _log(line: str) -> None:
    typer.echo(line, err=True)


def _quiet(_: str) -> None:
    pass


def _emit(as_json: bool, result: Any, text: str) -> None:
    if as_json:
        data = asdict(result) if is_dataclass(result) else result
        typer.echo(json.dumps(data, default=str))
    else:
        typer.echo(text)


def _docker() -> Any:
    from .docker import Docker

    return Docker()


def _project(root: Path) -> Any:
    from . import project

    return project.load(root)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print LIT's version.", is_eager=True, callback=_version)
    ] = False,
) -> None:
    """LIT: serve trained models on AWS Lambda from container images."""


@app.command()
def init(
    directory: ProjectDir,
    name: Annotated[str | None, typer.Option(help="Function name (default: the directory's name).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing lit.toml.")] = False,
) -> None:
    """Scaffold a function project: lit.toml, service.py, labels.txt, model/."""
    from . import scaffold

    written = scaffold.init(directory, name, force)
    typer.echo("\n".join(f"wrote {p}" for p in written))


@base_app.command("build")
def base_build(
    tag: Annotated[str, typer.Option(help="Tag for the base image.", envvar="LIT_BASE_IMAGE")] = "lit-base:py3.11",
    from_image: Annotated[
        str | None, typer.Option("--from", help="OS image to start from (Debian-based, Python 3.11).")
    ] = None,
    bootstrap: Annotated[
        bool, typer.Option(help="Build the OS layer from Debian's archive with mmdebstrap (no registry needed).")
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(help="CA bundle for pip inside the build (default: the host's).", envvar="LIT_CA_BUNDLE"),
    ] = None,
    no_ca_bundle: Annotated[bool, typer.Option("--no-ca-bundle", help="Do not hand any CA bundle to pip.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the build log.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the base image (Python 3.11, MXNet, OpenCV, awslambdaric, RIE, LIT runtime)."""
    from . import base

    result = base.build(_docker(), tag, from_image, bootstrap, ca_bundle, not no_ca_bundle, _quiet if quiet else _log)
    _emit(as_json, result, f"{result.image}  ({result.size / 1e6:.0f} MB, from {result.os_image}, {result.seconds}s)")


@app.command()
def build(
    directory: ProjectDir,
    tag: Annotated[str | None, typer.Option(help="Image reference (default lit-NAME:latest).")] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base", help="Base image (default from lit.toml, else lit-base:py3.11).", envvar="LIT_BASE_IMAGE"
        ),
    ] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Skip starting the runtime in the new image.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the build log.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the function image: base, extra requirements, model, code (in that layer order)."""
    from . import build as builder

    result = builder.build(
        _docker(), _project(directory), tag, base_image, not no_check, _quiet if quiet or as_json else _log
    )
    _emit(as_json, result, result.image)


@app.command()
def run(
    directory: ProjectDir,
    port: PortOpt = 9000,
    image: Annotated[str | None, typer.Option(help="Image to run (default lit-NAME:latest).")] = None,
    memory: Annotated[int | None, typer.Option(help="MemorySize in MB (default from lit.toml).")] = None,
    timeout: Annotated[int | None, typer.Option(help="Timeout in seconds (default from lit.toml).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start the function under the Lambda RIE on 127.0.0.1 and keep it warm (stop with `lit stop`)."""
    from . import local

    running = local.start(_docker(), _project(directory), image, port, memory, timeout)
    _emit(
        as_json,
        running,
        f"{running.image} running as {running.name} ({running.memory} MB, {running.cpus} vCPU)\n"
        f"invoke: lit invoke {directory}   or   curl -XPOST {running.url} -d @event.json",
    )


@app.command()
def invoke(
    directory: ProjectDir,
    event: Annotated[Path | None, typer.Option("--event", "-e", help="JSON event file ('-' for stdin).")] = None,
    image_file: Annotated[
        Path | None, typer.Option("--image", help='An image file: sent as {"image": base64}.')
    ] = None,
    data: Annotated[str | None, typer.Option("--data", "-d", help="The event as a JSON string.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send one event to the locally running function; print the answer and the REPORT figures."""
    from . import local

    given = [x for x in (event, image_file, data) if x is not None]
    if len(given) > 1:
        raise LitError("give one of --event, --image, --data", "pick one input")
    if image_file is not None:
        if not image_file.is_file():
            raise LitError(f"image file {image_file} does not exist", "pass an existing JPEG/PNG file")
        body = json.dumps({"image": base64.b64encode(image_file.read_bytes()).decode()}).encode()
    elif event is not None:
        body = sys.stdin.buffer.read() if str(event) == "-" else _read_event(event)
    else:
        body = (data or "{}").encode()
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        raise LitError(f"the event is not valid JSON: {exc}", "pass a JSON document") from None
    docker = _docker()
    running = local.find(docker, _project(directory))
    result = local.invoke(docker, running, body)
    if as_json:
        _emit(True, result, "")
    else:
        typer.echo(json.dumps(result.payload, indent=2))
        if result.report:
            figures = "  ".join(f"{k}={v:g}" for k, v in result.report.items())
            _log(f"REPORT {result.request_id}  {figures}")
    if result.function_error:
        raise typer.Exit(1)


def _read_event(path: Path) -> bytes:
    if not path.is_file():
        raise LitError(f"event file {path} does not exist", "pass a JSON file (see tests/events/ for examples)")
    return path.read_bytes()


@app.command()
def stop(directory: ProjectDir, as_json: JsonOpt = False) -> None:
    """Stop and remove the function's local containers."""
    from . import local

    removed = local.stop(_docker(), _project(directory))
    _emit(as_json, {"removed": removed}, "\n".join(f"removed {n}" for n in removed) or "nothing was running")


@model_app.command("push")
def model_push(
    source: Annotated[Path, typer.Argument(help="Model directory, or a project whose lit.toml names one.")],
    url: Annotated[str, typer.Argument(help="Destination, s3://bucket/prefix.")],
    region: Annotated[str | None, typer.Option(help="AWS region.", envvar="AWS_REGION")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload a model with its manifest; print the sha256 to pin in lit.toml."""
    from . import aws, model

    pushed = model.push(aws.S3Client(aws.session(region)), model.model_dir_of(source), url)
    _emit(
        as_json,
        pushed,
        f"pushed {len(pushed.files)} files to {pushed.url}\nin lit.toml:\n[model]\n"
        f'path = "{pushed.url}"\nsha256 = "{pushed.sha256}"',
    )


def main() -> None:
    try:
        app()
    except LitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
