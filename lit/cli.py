"""The `lit` command: thin wiring over the core modules. No MXNet, numpy or OpenCV here."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from . import __version__
from .errors import AwsError, LitError

if TYPE_CHECKING:  # the CLI imports its core lazily, so that `lit --help` stays fast
    from .deploy import Clients
    from .docker import Docker
    from .project import Project

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
cache_app = typer.Typer(help="The build stages LIT keeps as cache (lit-cache:...).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

ProjectDir = Annotated[Path, typer.Argument(help="Function project directory (holds lit.toml).")]
DataOpt = Annotated[
    Path,
    typer.Option(
        help="Held-out data: a folder per label, files with a labels.json, a JSONL/CSV with a label column, "
        "or NAME.npy with NAME.expected.npy."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of text.")]
RegionOpt = Annotated[
    str | None, typer.Option(help="AWS region (default: AWS_REGION / your profile's).", envvar="AWS_REGION")
]
AliasOpt = Annotated[str, typer.Option(help="The alias that serves traffic.", envvar="LIT_ALIAS")]
CanaryOpt = Annotated[
    str | None,
    typer.Option(help="PERCENT%:PERIOD: that share of the alias's traffic to the new version, watched, then all."),
]
LinearOpt = Annotated[
    str | None, typer.Option(help="PERCENT%:PERIOD: the new version's share grows by that much each period, watched.")
]
MaxErrorRateOpt = Annotated[
    float, typer.Option(min=0, max=1, help="Rollout: roll back when more of the new version's requests fail.")
]
MaxThrottlesOpt = Annotated[int, typer.Option(min=0, help="Rollout: roll back on more throttles than this.")]
MaxP99Opt = Annotated[
    float | None, typer.Option(min=1, help="Rollout: roll back when the new version's p99 Duration (ms) is over this.")
]


class UrlAuth(StrEnum):
    """A function URL's auth type, as Lambda names them."""

    AWS_IAM = "AWS_IAM"
    NONE = "NONE"


class Architecture(StrEnum):
    """A Lambda architecture, as lit.toml's [function] architecture names them (lit.arch.ARCHES)."""

    x86_64 = "x86_64"
    arm64 = "arm64"


UrlAuthOpt = Annotated[UrlAuth, typer.Option(help="Function URL auth: AWS_IAM, or NONE for a public URL.")]
PortOpt = Annotated[int, typer.Option(help="Port on 127.0.0.1 for the local endpoint.", envvar="LIT_PORT")]


def _log(line: str) -> None:
    typer.echo(line, err=True)


# What a Ctrl-C leaves when it lands outside a command's own handler (which says it in its error):
# nothing before a command runs; the commands that change things say what before and after their work.
# (None: Ctrl-C is how the command ends, as `lit logs --follow`'s does, and it says nothing. A
# callable: what is left is read when the interrupt lands, from the state the command changes.)
_interrupted: list[LitError | Callable[[], LitError] | None] = [
    LitError("interrupted before the command started: nothing was changed", "run the command again")
]


def _on_interrupt(what: str | Callable[[], LitError] | None, fix: str = "run the command again") -> None:
    _interrupted.append(what if what is None or callable(what) else LitError(f"interrupted {what}", fix))


_UNREAD = object()


def _on_change(read: Callable[[], object], changed: str, unchanged: str, before: object = _UNREAD) -> None:
    """What a Ctrl-C outside the command's own handlers left, read from the state it changes when the
    interrupt lands (`read()` against its value now, or `before`; `changed` may name it as {now}): the
    work's end and the note after it are two moments, and the interrupt can land between them."""
    if before is _UNREAD:
        try:
            before = read()
        except Exception:  # noqa: BLE001 - unreadable (no engine yet): the command says why itself
            before = _UNREAD

    def left() -> LitError:
        try:
            now = read()
        except Exception:  # noqa: BLE001 - unreadable now: say what was known before
            now = before
        if before is not _UNREAD and now != before:
            return LitError(f"interrupted {changed.format(now=now)}", "nothing to do")
        return LitError(f"interrupted {unchanged}", "run the command again")

    _on_interrupt(left)


def _say_interrupted() -> None:
    said = _interrupted[-1]
    if said is not None:
        typer.echo(f"error: {said() if callable(said) else said}", err=True)


def _quiet(_: str) -> None:
    pass


def _live() -> Callable[[str], None]:
    """`_log`, with live progress (steps, bytes, rate, time left) when a person watches stderr."""
    from . import progress

    return progress.reporter(_log)


def _emit(as_json: bool, result: Any, text: str) -> None:
    if as_json:
        data = asdict(result) if is_dataclass(result) and not isinstance(result, type) else result
        typer.echo(json.dumps(data, default=str))
    else:
        typer.echo(text)


def _docker() -> Docker:
    from .docker import Docker

    return Docker()


def _project(root: Path) -> Project:
    from . import project

    return project.load(root)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", help="Print LIT's version.", is_eager=True, callback=_version)
    ] = False,
) -> None:
    """LIT: serve trained models on AWS Lambda from container images."""
    _on_interrupt(f"while `lit {ctx.invoked_subcommand}` ran")


@app.command()
def init(
    directory: ProjectDir,
    name: Annotated[str | None, typer.Option(help="Function name (default: the directory's name).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing lit.toml.")] = False,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Start from a model: an .onnx file, a Hugging Face/optimum export directory, or an MXNet "
            "checkpoint directory (engine, input kind, task, image size and labels are read off it); or "
            "from another server's archive, its handler kept: a Model Server .mar (MMS or TorchServe) or a "
            "SageMaker model.tar.gz, a file or s3:// URL.",
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region, for an s3:// archive.", envvar="AWS_REGION")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Scaffold a function project: lit.toml, service.py, labels.txt, model/ (or, with --from, a project
    made from a model, every guess commented in lit.toml, or from an archive)."""
    from . import archive

    if source is not None and (source.startswith("s3://") or archive.is_archive(Path(source))):
        from . import aws

        def s3() -> Any:
            return aws.S3Client(_session(region))

        written, notes = archive.write(directory, source, name, force, s3)
        if not as_json:
            for line in notes:
                _log(f"note: {line}")
        _emit(as_json, {"written": [str(p) for p in written], "notes": notes}, "\n".join(f"wrote {p}" for p in written))
        return
    if source is not None:
        from . import from_model

        written, said = from_model.write(directory, Path(source), name, force)
        if not as_json:
            for line in said:
                _log(f"guessed {line}")
        _emit(
            as_json, {"written": [str(p) for p in written], "guessed": said}, "\n".join(f"wrote {p}" for p in written)
        )
        return
    from . import scaffold

    written = scaffold.init(directory, name, force)
    _emit(as_json, {"written": [str(p) for p in written]}, "\n".join(f"wrote {p}" for p in written))


@base_app.command("build")
def base_build(
    engine: Annotated[
        str, typer.Option(help="Engine: mxnet (lit-base:py3.11) or onnxruntime (lit-base:py3.11-onnxruntime).")
    ] = "mxnet",
    architecture: Annotated[
        Architecture,
        typer.Option(
            "--arch",
            help="Lambda architecture: x86_64, or arm64 (Graviton; built under emulation on an x86 host, "
            "tagged ...-arm64).",
        ),
    ] = Architecture.x86_64,
    tag: Annotated[
        str | None,
        typer.Option(
            help="Tag for the base image (default: the engine's and architecture's, or "
            "LIT_BASE_IMAGE[_ONNXRUNTIME][_ARM64])."
        ),
    ] = None,
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
    """Build an engine's base image (Python 3.11, MXNet with OpenCV or ONNX Runtime with Pillow, tokenizers,
    awslambdaric, RIE, LIT runtime)."""
    from . import base

    _on_interrupt("before the base build started: nothing was changed")
    docker = _docker()
    image = tag or base.default_tag(engine, architecture.value)
    _on_change(
        lambda: (docker.image(image) or {}).get("Id"),
        f"as the base build finished: {image} is the new base",
        "before the base build started: nothing was changed",
    )
    result = base.build(
        docker,
        tag,
        engine,
        architecture.value,
        from_image,
        bootstrap,
        ca_bundle,
        not no_ca_bundle,
        _quiet if quiet else _live(),
    )
    _on_interrupt(f"after the base build finished: {result.image} is the new base", "nothing to do")
    said = f"{result.image}  ({result.size / 1e6:.0f} MB, {result.architecture}, from {result.os_image}, {result.seconds}s)"
    _emit(as_json, result, said)


@app.command("build")
def build_command(
    directory: ProjectDir,
    tag: Annotated[str | None, typer.Option(help="Image reference (default lit-NAME:latest).")] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Base image for the engine (default from lit.toml, else the engine's: lit-base:py3.11 or "
            "lit-base:py3.11-onnxruntime; built when missing).",
        ),
    ] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Skip starting the runtime in the new image.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the build log.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the function image: base, extra requirements, model, code (in that layer order)."""
    from . import build

    _on_interrupt("before the build started: nothing was changed")
    docker, project = _docker(), _project(directory)
    image = tag or f"{project.image_repo}:latest"
    _on_change(
        lambda: (docker.image(image) or {}).get("Id"),
        f"as the build finished: {image} is the new image",
        "before the build started: nothing was changed",
    )
    result = build.build(docker, project, tag, base_image, not no_check, _quiet if quiet or as_json else _live())
    _on_interrupt(f"after the build finished: {result.image} is the new image", "nothing to do")
    for line in result.decisions:  # what the image check decided from the graph, even with -q or --json
        _log(line)
    _emit(as_json, result, result.image)


@app.command()
def run(
    directory: ProjectDir,
    port: PortOpt = 9000,
    image: Annotated[str | None, typer.Option(help="Image to run (default lit-NAME:latest).")] = None,
    memory: Annotated[int | None, typer.Option(help="MemorySize in MB (default from lit.toml).")] = None,
    timeout: Annotated[int | None, typer.Option(help="Timeout in seconds (default from lit.toml).")] = None,
    concurrency: Annotated[
        int, typer.Option(help="Warm instances behind the one endpoint (for load tests); 429 when all are busy.")
    ] = 1,
    sandbox: Annotated[
        bool,
        typer.Option(help="Lambda's sandbox: read-only root, /tmp the only writable place, a non-root user."),
    ] = True,
    idle_reclaim: Annotated[
        str | None,
        typer.Option(
            help="Reclaim an instance idle this long (30s, 10m): its next request is a cold start, as on Lambda."
        ),
    ] = None,
    snapstart: Annotated[
        bool | None,
        typer.Option(
            "--snapstart/--no-snapstart",
            help="Run SnapStart's lifecycle, emulated: init, before_snapshot, snapshot, after_restore "
            "(default: lit.toml's [function] snapstart).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start the function under the Lambda RIE on 127.0.0.1 and keep it warm (stop with `lit stop`)."""
    from . import lambda_limits as limits
    from . import local, units

    reclaim = units.option(idle_reclaim, "--idle-reclaim") if idle_reclaim is not None else None
    if memory is not None:
        units.in_range(memory, limits.MEMORY_MB, "--memory", "MB")
    if timeout is not None:
        units.in_range(timeout, limits.TIMEOUT_S, "--timeout", "s")
    running = local.start(
        _docker(),
        _project(directory),
        image,
        port,
        memory,
        timeout,
        concurrency,
        sandbox,
        idle_reclaim=reclaim,
        snapstart=snapstart,
    )
    instances = f", {running.concurrency} instances" if running.instances else ""
    if running.emulation and not as_json:
        _log(f"note: {running.image} {running.emulation}")
    if running.snapstart and not as_json:
        _log(
            "note: SnapStart emulated: init and before_snapshot run once, then after_restore, before the first "
            "invoke; the restore itself (Lambda's snapshot load) is not, so Restore Duration counts LIT's and "
            "your after-restore work only"
        )
    if running.stale:
        _log(
            f"warning: lit.toml changed since {running.image} was built: it runs the configuration it was built "
            f"with; `lit build {directory}` applies the new one"
        )
    _emit(
        as_json,
        running,
        f"{running.image} running as {running.name} ({running.memory} MB, {running.cpus} vCPU{instances})\n"
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
    remote: Annotated[bool, typer.Option("--remote", help="Invoke the deployed alias on AWS instead.")] = False,
    alias: AliasOpt = "live",
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send one event to the function (running locally, or the deployed alias with --remote)."""
    from . import deploy, local

    stdin = sys.stdin.buffer.read() if event is not None and str(event) == "-" else None
    body = local.event_body(event, image_file, data, stdin)
    if remote:
        project = _project(directory)
        _, clients = _clients(region)
        remote_result = deploy.invoke(clients, project.name, alias, body)
        answer = remote_result["payload"]
        typer.echo(json.dumps(remote_result if as_json else answer, indent=None if as_json else 2))
        if remote_result["function_error"]:
            raise typer.Exit(1)
        return
    docker = _docker()
    running = local.find(docker, _project(directory))
    result = local.invoke(docker, running, body)
    if as_json:
        _emit(True, result, "")
    else:
        typer.echo(json.dumps(result.payload, indent=2))
        for line in result.warnings():
            _log(line)
        if result.report:
            figures = "  ".join(f"{k}={v:g}" for k, v in result.report.items())
            _log(f"REPORT {result.request_id}  {figures}")
    if result.function_error:
        raise typer.Exit(1)


@app.command("logs")
def logs_command(
    directory: ProjectDir,
    remote: Annotated[
        bool, typer.Option("--remote", help="The deployed function's CloudWatch Logs instead of the local one's.")
    ] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Lines from this long ago (10m, 2h, 1d) or this time on (default: local all, remote 10m)."),
    ] = None,
    request_id: Annotated[str | None, typer.Option("--request-id", help="Only the lines of this request.")] = None,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The function's log lines: the runtime's JSON records and the START/END/REPORT lines."""
    import datetime as dt

    from . import aws, logs

    project = _project(directory)
    after = logs.since(since if since or not remote or follow else "10m")  # --follow: the newest minute first

    def show(line: logs.Line) -> None:
        payload = {"time": line.time.isoformat(), "source": line.source, "message": line.message}
        typer.echo(json.dumps(payload) if as_json else line.text())

    if follow:
        _on_interrupt(None)
    if remote:
        sess = _session(region)
        client = aws.LogsClient(sess)

        def exists() -> bool:
            return aws.LambdaClient(sess).get_function(project.name) is not None

        if follow:
            logs.follow_remote(client, project.name, after, request_id, show, exists=exists)
        else:
            for line in logs.remote_lines(client, project.name, after, request_id, dt.datetime.now(dt.UTC), exists):
                show(line)
        return
    docker = _docker()
    if follow:
        logs.follow_local(docker, project, after, request_id, show)
    else:
        for line in logs.local_lines(docker, project, after, request_id):
            show(line)


@app.command("bench")
def bench_command(
    directory: ProjectDir,
    memory: Annotated[
        str | None, typer.Option(help="Memory sizes in MB, comma-separated (default: lit.toml's), e.g. 512,1024,2048.")
    ] = None,
    event: Annotated[
        Path | None,
        typer.Option("--event", "-e", help="JSON event to send (default: a blank input of the model's size)."),
    ] = None,
    cold: Annotated[int, typer.Option(min=1, help="Cold starts per size (the median is reported).")] = 3,
    warm: Annotated[int, typer.Option(min=10, help="Warm invokes per size.")] = 200,
    p99_bound: Annotated[
        float | None, typer.Option(help="Latency bound in ms for the recommendation (default: 1.25x the best p99).")
    ] = None,
    image: Annotated[str | None, typer.Option(help="Image to measure (default lit-NAME:latest).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also draw latency and cost against memory to this PNG.")] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port on 127.0.0.1 for the function under test (default: a free one)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure the function locally: size, layers, cold start, warm p50/p99, memory, and cost per size."""
    from . import bench, local

    project = _project(directory)
    from . import units

    sizes = units.memory_sizes(memory) if memory else [project.function.memory]
    body = local.event_body(event, None, None) if event is not None else None
    report = bench.run(
        _docker(), project, sizes, body, cold, warm, p99_bound, image, log=_quiet if as_json else _live(), port=port
    )
    if plot is not None and report.emulation:
        _log(f"no plot drawn: the image {report.emulation}")
        plot = None
    if plot is not None:
        bench.plot(report, plot)
    saved = bench.save(project, report)
    _emit(
        as_json,
        report.to_dict(),
        bench.text(report) + (f"\nplot: {plot}" if plot else "") + f"\nresults: {saved}",
    )
    if all(r.error for r in report.results):
        raise typer.Exit(1)


@app.command("eval")
def eval_command(
    directory: ProjectDir,
    data: DataOpt,
    image: Annotated[str | None, typer.Option(help="Image to evaluate (default lit-NAME:latest).")] = None,
    against: Annotated[
        str | None,
        typer.Option(help="Compare with another model on the same data: an image (with --remote: a version or alias)."),
    ] = None,
    remote: Annotated[bool, typer.Option("--remote", help="Evaluate the deployed function instead.")] = False,
    alias: AliasOpt = "live",
    version: Annotated[
        int | None, typer.Option(min=1, help="With --remote: this version instead of the alias.")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=256, help="Examples per request (images and texts).")] = 1,
    k: Annotated[int, typer.Option(min=1, help="The k of an embedding's precision@k.")] = 5,
    plot: Annotated[
        Path | None, typer.Option(help="Draw the confusion matrix (classify) or the latency distribution to this PNG.")
    ] = None,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score the function on labelled held-out data: accuracy, precision@k, mAP@0.5 or error, and latency."""
    from . import eval_data, evaluate

    project = _project(directory)
    dataset = eval_data.load(data)
    log = _quiet if as_json else _live()
    if remote:
        if image is not None:
            raise LitError(
                "--image is for a local image; --remote evaluates the deployed function", "drop one", exit_code=2
            )
        _, clients = _clients(region)

        def answers(qualifier: str) -> evaluate.Answers:
            return evaluate.run_remote(clients.lam, project.name, qualifier, dataset, batch, log)

        candidate = answers(str(version) if version else alias)
        other = answers(against) if against else None
    else:
        docker = _docker()
        candidate = evaluate.run_local(docker, project, image, dataset, batch, log)
        other = evaluate.run_local(docker, project, against, dataset, batch, log) if against else None
    if other is None:
        report = evaluate.Report(dataset.source, evaluate.score(dataset, candidate, k)[0])
    else:
        report = evaluate.Report(dataset.source, *evaluate.compare(dataset, candidate, other, k))
    if plot is not None:
        from . import plot as plotting

        plotting.render({"kind": "eval", **asdict(report), "latencies_ms": candidate.latencies_ms}, plot)
    _emit(as_json, report, evaluate.render(report) + (f"\nplot: {plot}" if plot else ""))


@app.command("compare")
def compare_command(
    directory: ProjectDir,
    data: DataOpt,
    original: Annotated[
        str,
        typer.Option(
            help="The original server's prediction URL: Model Server's or TorchServe's "
            "http://HOST:PORT/predictions/NAME, a SageMaker container's http://HOST:PORT/invocations; or "
            "`sagemaker`: the project's SageMaker artifact, its handler run in process by sagemaker-inference."
        ),
    ],
    python: Annotated[
        str,
        typer.Option(help="With --original sagemaker: a Python with the handler's packages and sagemaker-inference."),
    ] = sys.executable,
    image: Annotated[str | None, typer.Option(help="Image to compare (default lit-NAME:latest).")] = None,
    tolerance: Annotated[
        float, typer.Option(min=0, help="The largest difference between two numbers that is still the same answer.")
    ] = 1e-5,
    as_json: JsonOpt = False,
) -> None:
    """Send the same inputs to the original server and to the LIT image (under the RIE), and report
    where the answers differ: top-1 agreement and the largest difference. Exits 1 when they differ."""
    from . import compare, eval_data, evaluate

    project = _project(directory)
    dataset = eval_data.load(data)
    log = _quiet if as_json else _live()
    docker = _docker()
    report = compare.run(
        dataset,
        lambda: evaluate.run_local(docker, project, image, dataset, 1, log),
        original,
        tolerance,
        log,
        project,
        python,
    )
    _emit(as_json, report, compare.render(report))
    if not report.same:
        raise typer.Exit(1)


@app.command("plan")
def plan_command(
    directory: ProjectDir,
    rps: Annotated[float | None, typer.Option(help="A steady rate, in requests per second.")] = None,
    duration: Annotated[str, typer.Option(help="How long the steady --rps lasts: 30m, 1h, 1d.")] = "1h",
    traffic: Annotated[
        Path | None,
        typer.Option(help="A traffic profile: a CSV of time,requests_per_second rows (time in s or H:MM[:SS])."),
    ] = None,
    bench_file: Annotated[
        Path | None, typer.Option("--bench", help="`lit bench` results (default: the project's last, .lit/bench.json).")
    ] = None,
    memory: Annotated[str | None, typer.Option(help="Only these benched sizes, comma-separated.")] = None,
    p99_target: Annotated[
        float | None, typer.Option(min=0, help="Latency target in ms: the cheapest size meeting it is named.")
    ] = None,
    account_limit: Annotated[
        int, typer.Option(min=1, help="The account's concurrency limit (Lambda's default quota: 1,000).")
    ] = 1000,
    reserved: Annotated[
        int | None, typer.Option(min=1, help="Reserved concurrency (default: lit.toml's, else none).")
    ] = None,
    provisioned: Annotated[
        int | None, typer.Option(min=0, help="Provisioned concurrency (default: lit.toml's).")
    ] = None,
    idle_reclaim: Annotated[
        str, typer.Option(help="How long an idle environment lives: AWS states no fixed time; 10m was observed.")
    ] = "10m",
    snapstart: Annotated[
        bool | None,
        typer.Option(
            "--snapstart/--no-snapstart",
            help="Plan with SnapStart: cold starts are restores; its cache and restores priced (default: lit.toml's).",
        ),
    ] = None,
    restore_ms: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="With SnapStart, what a restore takes, in ms: your REPORT lines' Restore Duration (default: a "
            "figure within AWS's 'as low as sub-second' for Python, stated in the output).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated arrivals and draws.")] = 0,
    plot: Annotated[Path | None, typer.Option(help="Also draw the timeline to this PNG.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate Lambda at a traffic profile from the measured figures: concurrency, cold starts,
    p50/p99/p99.9, throttles, monthly cost per memory size, and whether provisioned concurrency pays."""
    from . import bench, plan

    project = _project(directory)
    on = project.function.snapstart if snapstart is None else snapstart
    restore = (plan.RESTORE_MS if restore_ms is None else restore_ms) if on else None
    flow, described = plan.traffic(rps, duration, traffic)
    results = bench_file or project.root / bench.RESULTS
    architecture, figures = plan.read_figures(results, plan.sizes(memory), restore)
    limits = plan.limits(project.function, account_limit, reserved, provisioned, idle_reclaim, restore is not None)
    report = plan.plan(
        project.name,
        flow,
        described,
        architecture,
        figures,
        limits,
        p99_target,
        seed,
        log=_quiet if as_json else _live(),
        restore_ms=restore,
    )
    if plot is not None:
        plan.plot(report, plot)
    _emit(as_json, report.to_dict(), plan.text(report) + (f"\nplot: {plot}" if plot else ""))


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
    force: Annotated[
        bool, typer.Option("--force", help="Replace another model already at the URL (functions pinned to it break).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Upload a model with its manifest; print the sha256 to pin in lit.toml. A URL that holds
    another model is refused unless --force."""
    from . import aws, model

    sess = aws.session(region)
    pushed = model.push(aws.S3Client(sess), model.model_dir_of(source), url, force, _pinned(sess))
    done = f"pushed {len(pushed.files)} files to" if pushed.pushed else "already there, unchanged:"
    _emit(
        as_json,
        pushed,
        f'{done} {pushed.url}\nin lit.toml:\n[model]\npath = "{pushed.url}"\nsha256 = "{pushed.sha256}"',
    )


@model_app.command("list")
def model_list(
    url: Annotated[str, typer.Argument(help="Where models were pushed, s3://bucket/prefix.")],
    region: Annotated[str | None, typer.Option(help="AWS region.", envvar="AWS_REGION")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The models pushed under a prefix, and the deployed functions (this region) that pin each."""
    from . import aws, model

    sess = aws.session(region)
    found = model.listing(aws.S3Client(sess), url, _pinned(sess))
    lines = [
        f"{m.url}  sha256 {m.sha256[:12]}  {m.files} files, {m.bytes:,} bytes  "
        + (f"pinned by {', '.join(m.pinned_by)}" if m.pinned_by else "pinned by no function here")
        for m in found
    ]
    _emit(as_json, [asdict(m) for m in found], "\n".join(lines) or f"no models under {url}")


def _pinned(sess: Any) -> Any:
    """sha256 -> the deployed functions that pin that manifest (their lit:model tag); [] when this
    session cannot list functions (no region, no permission): it cannot tell."""
    from . import aws, deploy

    def pinned(sha: str) -> list[str]:
        if not sess.region_name:
            return []
        try:
            return aws.LambdaClient(sess).functions_tagged(deploy.MODEL_TAG, sha)
        except AwsError:
            return []

    return pinned


def _session(region: str | None) -> Any:
    """A boto3 session with a region: checked first, so that no call goes out without one."""
    from . import aws

    sess = aws.session(region)
    if not sess.region_name:
        raise AwsError("no AWS region set", "pass --region or set AWS_REGION")
    return sess


def _clients(region: str | None) -> tuple[Any, Clients]:
    from . import aws, deploy

    sess = _session(region)
    account = aws.STSClient(sess).identity()["Account"]
    return sess, deploy.Clients(aws.LambdaClient(sess), aws.IAMClient(sess), account, sess.region_name)


@app.command("push")
def push_command(
    directory: ProjectDir,
    image: Annotated[str | None, typer.Option(help="Local image to push (default lit-NAME:latest).")] = None,
    registry: Annotated[
        str | None, typer.Option(help="Push to this OCI registry host instead of ECR (log in with docker first).")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Tag (default: the git commit, else the image id).")] = None,
    keep: Annotated[int, typer.Option(help="Images an ECR repository LIT creates keeps (lifecycle policy).")] = 10,
    keep_login: Annotated[
        bool,
        typer.Option(
            "--keep-login",
            help="Store the ECR login in your Docker configuration (12 hours), as `docker login` does. "
            "By default it lives only as long as the push.",
        ),
    ] = False,
    region: RegionOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Push the function image to ECR (created when missing) or --registry; print its digest."""
    from . import aws, push

    _on_interrupt("before the push started: nothing was sent")
    project = _project(directory)
    _on_change(
        lambda: push.last_push(project),
        "as the push finished: it is pushed and recorded (`lit deploy` deploys it)",
        "before the push started: nothing was sent",
    )
    ecr = None if registry else aws.ECRClient(aws.session(region))
    result = push.push(
        _docker(), project, ecr, image, registry, tag, keep, _quiet if quiet or as_json else _live(), keep_login
    )
    _on_interrupt(f"after the push finished: {result.uri} is in the registry", "nothing to do")
    _emit(as_json, result, f"{result.uri}\n({result.uploaded_layers} layers uploaded)")


@app.command("deploy")
def deploy_command(
    directory: ProjectDir,
    image_uri: Annotated[
        str | None, typer.Option(help="REPOSITORY@sha256:... to deploy (default: what `lit push` recorded).")
    ] = None,
    role: Annotated[str | None, typer.Option(help="Execution role ARN (default: LIT creates lit-NAME).")] = None,
    alias: AliasOpt = "live",
    url: Annotated[bool, typer.Option("--url", help="Give the alias a function URL.")] = False,
    url_auth: UrlAuthOpt = UrlAuth.AWS_IAM,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the planned AWS calls; change nothing.")] = False,
    gate: Annotated[
        Path | None,
        typer.Option(
            help="A gate file (data, min, max_drop): `lit eval` of the new version must pass it before the alias "
            "moves (default: lit.toml's [deploy.gate])."
        ),
    ] = None,
    canary: CanaryOpt = None,
    linear: LinearOpt = None,
    max_error_rate: MaxErrorRateOpt = 0.01,
    max_throttles: MaxThrottlesOpt = 0,
    max_p99: MaxP99Opt = None,
    p99_ratio: Annotated[
        float, typer.Option(min=1, help="Rollout: roll back when its p99 is over this many times the old version's.")
    ] = 1.5,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or update the function from the pushed image (by digest), publish a version, move the alias."""
    from . import deploy, push, rollout
    from . import gate as gates

    policy = rollout.chosen(canary, linear)

    _on_interrupt("before the deploy started: nothing was changed in AWS")
    project = _project(directory)
    chosen = gates.load(gate) if gate is not None else project.gate  # a wrong gate file: before any AWS call
    image_uri = push.pushed_uri(project, image_uri, required=True)
    assert image_uri is not None
    image_arch = push.architecture_of(_docker(), project, image_uri)
    if image_arch is None and not as_json:
        _log(f"note: this machine has no record of {image_uri}'s architecture: it is not checked against lit.toml's")
    sess, clients = _clients(region)
    want = deploy.desired(project, clients, image_uri, role, alias, url_auth.value if url else None, image_arch)
    plan = deploy.plan(clients, want)
    _on_change(
        lambda: (clients.lam.get_alias(project.name, alias) or {}).get("FunctionVersion"),
        f"as the deploy finished: alias {alias} is on version {{now}} (it was on {plan.live_version})",
        "before the deploy changed anything in AWS",
        plan.live_version,
    )
    shift = (policy, rollout.Thresholds(max_error_rate, max_throttles, p99_ratio, max_p99)) if policy else None
    if dry_run:
        steps = [{**asdict(s), "call": s.call} for s in plan.steps]
        _emit(as_json, {"dry_run": True, "steps": steps}, deploy.dry_run_text(plan, chosen, policy))
        return

    def metrics() -> Any:
        from . import aws

        return aws.MetricsClient(sess)

    result = deploy.release(clients, plan, _quiet if as_json else _log, chosen, shift, metrics)
    _on_interrupt(
        f"after the deploy finished: {result.function}:{result.alias} is version {result.version}", "nothing to do"
    )
    text = f"{result.function}:{result.alias} -> version {result.version}" + (
        f"\nurl: {result.url}" if result.url else ""
    )
    _emit(as_json, result, text if result.changed else f"nothing to do: {text}")


@app.command()
def status(directory: ProjectDir, alias: AliasOpt = "live", region: RegionOpt = None, as_json: JsonOpt = False) -> None:
    """The deployed function: state, image digest, versions, alias, URL, SnapStart."""
    from . import deploy

    project = _project(directory)
    _, clients = _clients(region)
    s = deploy.status(clients, project.name, alias, deploy.role_policy(project, clients.account, clients.region))
    _emit(as_json, s, s.text())
    if s.problems:
        raise LitError(f"{s.function} needs attention: " + "; ".join(s.problems), "run `lit deploy DIR`")


@app.command()
def rollback(
    directory: ProjectDir,
    alias: AliasOpt = "live",
    to: Annotated[str | None, typer.Option(help="Version to move the alias to (default: the previous one).")] = None,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move the alias back to the previous version."""
    from . import deploy

    project = _project(directory)
    _, clients = _clients(region)
    old, new = deploy.rollback(clients, project.name, alias, to)
    _emit(
        as_json,
        {"function": project.name, "alias": alias, "from": old, "to": new},
        f"{project.name}:{alias}: version {old} -> {new}",
    )


@app.command()
def destroy(
    directory: ProjectDir,
    alias: AliasOpt = "live",
    repository: Annotated[
        bool, typer.Option("--repository", help="Also delete the ECR repository and its images.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be deleted; delete nothing.")] = False,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete the function, its URL and the role LIT created (the repository only with --repository)."""
    from . import aws, deploy

    project = _project(directory)
    sess, clients = _clients(region)
    if repository:
        clients = replace(clients, ecr=aws.ECRClient(sess))
    kept: list[str] = []
    steps = deploy.destroy_plan(clients, project, alias, repository, kept)
    if not dry_run:
        deploy.execute(clients, steps, _quiet if as_json else _log)
    verb = "would " if dry_run else ""
    _emit(
        as_json,
        {"dry_run": dry_run, "steps": [s.description for s in steps], "kept": kept},
        "\n".join([f"{verb}{s.description}" for s in steps] + kept) or "nothing to delete",
    )


@app.command("template")
def template_command(
    directory: ProjectDir,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: DIR/template.json).")
    ] = None,
    image_uri: Annotated[str | None, typer.Option(help="Default ImageUri (default: what `lit push` recorded).")] = None,
    alias: AliasOpt = "live",
    api: Annotated[
        bool, typer.Option("--api", help="An API Gateway REST API (OpenAPI) instead of a function URL.")
    ] = False,
    url_auth: UrlAuthOpt = UrlAuth.AWS_IAM,
    canary: CanaryOpt = None,
    linear: LinearOpt = None,
    max_error_rate: MaxErrorRateOpt = 0.01,
    max_throttles: MaxThrottlesOpt = 0,
    max_p99: MaxP99Opt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a SAM template (PackageType Image, the alias, a function URL or an API) for CloudFormation."""
    from . import push, rollout, template

    policy = rollout.chosen(canary, linear)
    limits = rollout.Thresholds(max_error_rate, max_throttles, p99_ms=max_p99)
    project = _project(directory)
    uri = push.pushed_uri(project, image_uri)
    target = output or project.root / "template.json"
    shift = (policy, limits) if policy else None
    target.write_text(template.dumps(template.render(project, uri, alias, api, not api, url_auth.value, shift)))
    _emit(as_json, {"template": str(target), "image_uri": uri}, f"wrote {target}")


@app.command("schema")
def schema_command(
    directory: ProjectDir,
    openapi: Annotated[
        bool, typer.Option("--openapi", help="OpenAPI 3.1 for the HTTP route instead of JSON Schema.")
    ] = False,
    image: Annotated[str | None, typer.Option(help="Image to read (default lit-NAME:latest).")] = None,
    as_json: JsonOpt = False,  # (the contract is JSON either way)
) -> None:
    """Print the function's contract: requests per input kind and trigger, and answers per task (JSON Schema)."""
    from . import schema

    typer.echo(json.dumps(schema.contract(_docker(), _project(directory), image, openapi), indent=2))


# --- lit scan, lit doctor ---
@app.command("scan")
def scan_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="IMAGE_OR_DIR", help="An image reference, or a function project directory (its lit-NAME:latest)."
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Scan every layer and the config of an image for credentials, private keys and CA bundles."""
    from . import scan

    ref = f"{_project(Path(target)).image_repo}:latest" if Path(target).is_dir() else target
    result = scan.scan(_docker(), ref)
    _emit(as_json, result, scan.text(result))
    if result.findings:
        raise LitError(f"{len(result.findings)} finding(s) in {ref}", scan.FIX)
    if result.unscanned:
        raise LitError(
            f"{len(result.unscanned)} layer(s) of {ref} are in a format lit scan cannot read (it reads plain, "
            "gzip and zstd tars): " + ", ".join(result.unscanned),
            "save the image with `docker save` from an engine that writes standard OCI or Docker layers, and "
            "report the engine's version",
        )


@app.command("doctor")
def doctor_command(
    directory: Annotated[
        Path | None, typer.Argument(help="Also check this function project: lit.toml and its built image.")
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Base image for the engine (default from lit.toml, else the engine's: lit-base:py3.11 or "
            "lit-base:py3.11-onnxruntime; checked, never built here).",
        ),
    ] = None,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the Docker engine, disk, base image, RIE and AWS set-up (and a project): what to fix."""
    from . import doctor

    report = doctor.run(_docker(), directory, base_image, region)
    _emit(as_json, report.to_dict(), doctor.text(report))
    if not report.ok:
        failed = [c.name for c in report.checks if c.status == doctor.FAIL]
        raise LitError(f"{len(failed)} check(s) failed: {', '.join(failed)}", "see each failing check's fix above")


# --- lit cache
CacheDirArg = Annotated[
    Path, typer.Argument(help="Function project directory (holds lit.toml): its caches. Default: here.")
]
CacheAllOpt = Annotated[
    bool, typer.Option("--all", help="Every cache LIT keeps: each project's build stages and each base's.")
]


def _caches(directory: Path, every: bool) -> tuple[list[Any], str]:
    from . import cache

    if every:
        return cache.listing(_docker()), "every project and base"
    name = _project(directory).name
    return cache.listing(_docker(), name), name


@cache_app.command("list")
def cache_list(directory: CacheDirArg = Path("."), every: CacheAllOpt = False, as_json: JsonOpt = False) -> None:
    """The build stages kept as cache for a project (or --all): size, what removing frees, what each is."""
    from . import cache

    found, scope = _caches(directory, every)
    _emit(as_json, {"caches": [asdict(c) for c in found]}, cache.text(found, scope))


@cache_app.command("rm")
def cache_rm(directory: CacheDirArg = Path("."), every: CacheAllOpt = False, as_json: JsonOpt = False) -> None:
    """Remove the build stages kept as cache for a project (or --all): the next build makes them again."""
    from . import cache, progress

    found, scope = _caches(directory, every)
    removed = cache.remove(_docker(), found)
    freed = sum(c.unique_size for c in removed)
    lines = [f"removed {c.image or c.id.removeprefix('sha256:')[:12]}  ({c.what})" for c in removed]
    _emit(
        as_json,
        {"removed": [asdict(c) for c in removed], "freed": freed},
        "\n".join([*lines, f"freed about {progress.human(freed)}"]) if removed else f"no caches of {scope}",
    )


def main() -> NoReturn:
    """Run the command and exit with its code. Ctrl-C at any moment, the exit included, exits 130
    with what it left. The exit skips the interpreter's shutdown: an interrupt that landed inside an
    import would otherwise end the process with SIGINT's own status (-2), not 130."""
    from . import interrupt

    code = 130
    try:
        try:
            code = _run()
            if interrupt.pending() and code != 130:  # it landed in a finalizer and no checkpoint came after
                _say_interrupted()
                code = 130
        except KeyboardInterrupt:
            _say_interrupted()
            code = 130
        sys.stdout.flush()
        sys.stderr.flush()
    except KeyboardInterrupt:  # while saying it or flushing: the message may be cut, the code is not
        code = 130
    os._exit(code)


def _run() -> int:
    try:
        app()
    except LitError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except SystemExit as exc:
        if exc.code == 130:  # Typer's exit for a Ctrl-C that no command's own handler answered
            _say_interrupted()
        if isinstance(exc.code, str):
            typer.echo(exc.code, err=True)
            return 1
        return exc.code or 0
    return 0
