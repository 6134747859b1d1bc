"""Benchmark: `lit invoke` on a warm local function against `sam local invoke`, same image, as typed.

    .venv/bin/python benchmarks/sam.py [--runs 5] [--startup-runs 10] [--sam-venv DIR] [--keep-images]

Both tools run as a user types them, as subprocesses, timed by wall clock (median of --runs):

- `lit invoke DIR --image PNG` against a function started once by `lit run DIR` (not timed; one
  untimed invoke first, so that the function is warm), stopped at the end with `lit stop DIR`;
- `sam local invoke Function -t TEMPLATE --skip-pull-image -e EVENT`, on a SAM template written by
  `lit template DIR --image-uri IMAGE` for the same image (SAM starts a container per invoke; one
  untimed invoke first, which builds SAM's "rapid" image on top of ours).

The project is a copy of images/digits under its own name (digits-sam-bench), so that `lit run`
and `lit stop` never touch a digits function someone else is running, and `lit build` never moves
the lit-digits tag. Invokes alternate between the two tools; both must give the same prediction.
Also timed: `lit --help`, `lit --version`, `python -c pass` and `python -c 'import lit.cli'` (the
interpreter floor), `python -X importtime -c 'import lit.cli'`, `sam --version`; and which heavy
modules (mxnet, numpy, cv2, boto3, ...) the CLI imports on the way to --help, --version and
invoke: none may be (the script exits 1, after writing its results, if one is).

SAM CLI is installed on first use into its own venv (default ~/.cache/lit/sam-venv: the lit venv
pins numpy and boto versions SAM would fight with), with `--cert $PIP_CERT` when set. SAM never
reaches AWS: fake credentials, no config files, AWS_ENDPOINT_URL pointing at a stub on 127.0.0.1
that answers the one call `sam local invoke` makes (sts:GetCallerIdentity) and counts every call;
telemetry off and the weekly version check marked done (a user's steady state). SAM's containers
publish on 127.0.0.1 only (checked while it runs) and nothing is left behind: the function, SAM's
containers, and (unless --keep-images) both images of the copy are removed at the end.
Prints a table and writes benchmarks/results/sam.json. Absolute figures vary with the machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "images" / "digits"
PYTHON = Path(sys.executable)
LIT = PYTHON.with_name("lit")
NAME = "digits-sam-bench"
IMAGE = f"lit-{NAME}:latest"
RAPID = f"lit-{NAME}:rapid-x86_64"  # what SAM builds on top of IMAGE (adds its copy of the RIE)
HEAVY = ("mxnet", "numpy", "cv2", "boto3", "botocore", "docker", "requests", "lit_runtime")
NOTABLE = ("typer", "rich", "pygments", "pydantic", "ssl")
MARK = "LIT-BENCH-MODULES "
# Runs the CLI in-process, as the `lit` script does, and reports every module it imported.
PROBE = f"""
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("\\n{MARK}" + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["lit", *sys.argv[1:]]
from lit.cli import main
main()
"""
STS_ANSWER = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bench</Arn><UserId>AIDABENCH</UserId>
<Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"""


class AwsStub:
    """AWS on 127.0.0.1: answers sts:GetCallerIdentity, refuses anything else, records every call."""

    def __init__(self) -> None:
        calls: list[str] = []
        self.calls = calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode(errors="replace")
                action = parse_qs(body).get("Action", [self.headers.get("x-amz-target") or self.path])[0]
                calls.append(action)
                ok = action == "GetCallerIdentity"
                data = (STS_ANSWER if ok else "<ErrorResponse/>").encode()
                self.send_response(200 if ok else 400)
                self.send_header("content-type", "text/xml")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def offline_env(aws_url: str, sam_app_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAM_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_CONFIG_FILE="/nonexistent/lit-bench/config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/lit-bench/credentials",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=aws_url,
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
        __SAM_CLI_APP_DIR=str(sam_app_dir),
    )
    return env


def ensure_sam(venv: Path) -> Path:
    sam = venv / "bin" / "sam"
    if sam.is_file():
        return sam
    print(f"installing SAM CLI into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    cert = os.environ.get("PIP_CERT")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *(["--cert", cert] if cert else [])]
    subprocess.run([*pip, "aws-sam-cli"], check=True)
    return sam


def copy_project(dest: Path) -> Path:
    shutil.copytree(DIGITS, dest, ignore=shutil.ignore_patterns(".lit", "template.json", "__pycache__"))
    toml = dest / "lit.toml"
    toml.write_text(re.sub(r'(?m)^name\s*=\s*"[^"]*"', f'name = "{NAME}"', toml.read_text(), count=1))
    return dest


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return seconds, proc


def payload(stdout: str) -> dict:
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def sam_function_ms(stderr: str) -> float | None:
    """The RIE's Duration inside SAM's container: cold init + the request (the RIE inits lazily)."""
    m = re.search(r"REPORT RequestId: .*?\tDuration: ([\d.]+) ms", stderr)
    return float(m[1]) if m else None


def docker_lines(*args: str) -> list[str]:
    out = subprocess.run(["docker", *args], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


class PortWatch:
    """Polls `docker ps` for SAM's containers while it runs and records what they publish."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            for line in docker_lines("ps", "--filter", f"ancestor={RAPID}", "--format", "{{.ID}} {{.Ports}}"):
                self.seen.add(line)
            time.sleep(0.1)

    def __enter__(self) -> PortWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def median(xs: list[float]) -> float:
    return round(statistics.median(xs), 4)


def time_cmd(cmd: list[str], env: dict[str, str], n: int) -> dict:
    times = [run(cmd, env)[0] for _ in range(n)]
    return {"median_s": median(times), "runs_s": [round(t, 4) for t in times]}


def importtime(env: dict[str, str], n: int) -> dict:
    """`python -X importtime -c 'import lit.cli'`: every top-level import's cumulative time, summed."""
    totals, cli = [], []
    for _ in range(n):
        _, proc = run([str(PYTHON), "-X", "importtime", "-c", "import lit.cli"], env)
        total = 0
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
                continue
            if not parts[2].startswith("  "):  # top level: " name"; nested imports are indented further
                total += int(parts[1])
            if parts[2].strip() == "lit.cli":
                cli.append(int(parts[1]) / 1e6)
        totals.append(total / 1e6)
    return {"total_s": median(totals), "lit_cli_cumulative_s": median(cli)}


def modules(args: list[str], env: dict[str, str]) -> dict:
    _, proc = run([str(PYTHON), "-c", PROBE, *args], env)
    line = [x for x in proc.stderr.splitlines() if x.startswith(MARK)][-1]
    loaded = json.loads(line[len(MARK) :])
    tops = {m.split(".")[0] for m in loaded}
    return {
        "modules": len(loaded),
        "heavy_imported": [m for m in HEAVY if m in tops],
        "heavy_not_imported": [m for m in HEAVY if m not in tops],
        "also_imported": [m for m in NOTABLE if m in tops],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cleanup(project: Path, env: dict[str, str], keep_images: bool) -> list[str]:
    notes = []
    subprocess.run([str(LIT), "stop", str(project)], env=env, capture_output=True)
    left = docker_lines("ps", "-aq", "--filter", f"ancestor={RAPID}")
    if left:
        notes.append(f"removed {len(left)} container(s) SAM left behind")
        subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
    left = docker_lines("ps", "-aq", "--filter", f"label=lit.function={NAME}")
    if left:
        notes.append(f"removed {len(left)} lit container(s) still there after lit stop")
        subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
    if not keep_images:
        for ref in (RAPID, IMAGE):
            if docker_lines("images", "-q", ref):
                subprocess.run(["docker", "rmi", ref], capture_output=True)
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed invokes per tool")
    parser.add_argument("--startup-runs", type=int, default=10, help="runs per start-up figure")
    parser.add_argument("--port", type=int, default=0, help="port for `lit run` (default: a free one)")
    parser.add_argument("--sam-venv", type=Path, default=None, help="default: ~/.cache/lit/sam-venv")
    parser.add_argument("--keep-images", action="store_true", help=f"keep {IMAGE} and {RAPID} afterwards")
    args = parser.parse_args()

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lit"
    sam = ensure_sam(args.sam_venv or cache / "sam-venv")
    if not (DIGITS / "model" / "digits-0000.params").is_file():
        subprocess.run([sys.executable, str(DIGITS / "train.py")], check=True)
    if docker_lines("ps", "-aq", "--filter", f"ancestor={RAPID}"):
        sys.exit(f"containers of {RAPID} exist already: another run of this benchmark? remove them first")

    stub = AwsStub()
    tmp = Path(tempfile.mkdtemp(prefix="lit-sam-bench-"))
    app_dir = tmp / "sam-app"
    app_dir.mkdir()
    (app_dir / "metadata.json").write_text(json.dumps({"lastVersionCheck": time.time(), "telemetryEnabled": False}))
    env = offline_env(stub.url, app_dir)
    project = copy_project(tmp / "digits")
    png = project / "heldout" / "0000.png"
    event = tmp / "event.json"
    event.write_text(json.dumps({"image": base64.b64encode(png.read_bytes()).decode()}))
    template = tmp / "template.json"
    port = args.port or free_port()
    lit_invoke = [str(LIT), "invoke", str(project), "--image", str(png)]
    sam_invoke = [str(sam), "local", "invoke", "Function", "-t", str(template), "--skip-pull-image"]
    sam_invoke += ["-e", str(event), "--container-host-interface", "127.0.0.1"]

    report: dict = {"runs": args.runs, "commands": {"lit": lit_invoke, "sam": sam_invoke}}
    try:
        build_s, _ = run([str(LIT), "build", str(project)], env)
        run([str(LIT), "template", str(project), "--image-uri", IMAGE, "-o", str(template)], env)
        run_s, proc = run([str(LIT), "run", str(project), "--port", str(port), "--json"], env)
        url = json.loads(proc.stdout)["url"]

        lit_first, proc = run(lit_invoke, env)
        lit_answer = payload(proc.stdout)
        with PortWatch() as watch:
            sam_first, proc = run(sam_invoke, env, cwd=tmp)
        sam_answer = payload(proc.stdout)
        lit_times, sam_times, sam_fn_ms = [], [], []
        for _ in range(args.runs):  # alternate, so that machine noise falls on both
            t, proc = run(lit_invoke, env)
            lit_times.append(t)
            assert payload(proc.stdout) == lit_answer, proc.stdout
            t, proc = run(sam_invoke, env, cwd=tmp)
            sam_times.append(t)
            sam_fn_ms.append(sam_function_ms(proc.stderr) or float("nan"))
            assert payload(proc.stdout)["predictions"][0][0]["label"] == sam_answer["predictions"][0][0]["label"]
        body = event.read_bytes()
        posts = []
        for _ in range(max(20, args.runs)):
            t0 = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=60) as r:
                r.read()
            posts.append(time.perf_counter() - t0)
        invoke_modules = modules(lit_invoke[1:], env)
    finally:
        notes = cleanup(project, env, args.keep_images)
        stub.close()
        shutil.rmtree(tmp, ignore_errors=True)

    lit_top = [p["label"] for p in lit_answer["predictions"][0]]
    sam_top = [p["label"] for p in sam_answer["predictions"][0]]
    diff = max(
        abs(a["probability"] - b["probability"])
        for a, b in zip(lit_answer["predictions"][0], sam_answer["predictions"][0], strict=True)
    )
    ports = sorted({p for line in watch.seen for ps in line.split(" ", 1)[1:] for p in ps.split(", ") if p})
    report["invoke"] = {
        "lit": {
            "median_s": median(lit_times),
            "runs_s": [round(t, 4) for t in lit_times],
            "first_s": round(lit_first, 4),
            "note": "first = the function's cold init inside the already started container (the RIE inits lazily)",
        },
        "sam": {
            "median_s": median(sam_times),
            "runs_s": [round(t, 4) for t in sam_times],
            "first_s": round(sam_first, 4),
            "function_ms_median": round(statistics.median(sam_fn_ms), 1),
            "note": "first builds SAM's rapid image; function_ms = the RIE's Duration (cold init + request)",
        },
        "sam_over_lit": round(statistics.median(sam_times) / statistics.median(lit_times), 2),
        "raw_post_median_ms": round(statistics.median(posts) * 1000, 3),
        "lit_build_s": round(build_s, 3),
        "lit_run_s": round(run_s, 3),
        "same_prediction": lit_top == sam_top,
        "top_labels": {"lit": lit_top, "sam": sam_top},
        "max_probability_diff": diff,
        "sam_container_ports": ports,
        "sam_ports_loopback_only": bool(ports) and all(p.startswith("127.0.0.1:") for p in ports),
        "aws_calls_to_stub": {a: stub.calls.count(a) for a in sorted(set(stub.calls))},
        "cleanup": notes,
    }

    n = args.startup_runs
    report["startup"] = {
        "python -c pass": time_cmd([str(PYTHON), "-c", "pass"], env, n),
        "python -c 'import lit.cli'": time_cmd([str(PYTHON), "-c", "import lit.cli"], env, n),
        "lit --version": time_cmd([str(LIT), "--version"], env, n),
        "lit --help": time_cmd([str(LIT), "--help"], env, n),
        "sam --version": time_cmd([str(sam), "--version"], env, n),
        "importtime lit.cli": importtime(env, n),
    }
    report["sam_version"] = run([str(sam), "--version"], env)[1].stdout.strip()
    report["imports"] = {
        "lit --help": modules(["--help"], env),
        "lit --version": modules(["--version"], env),
        "lit invoke": invoke_modules,
    }

    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "sam.json").write_text(json.dumps(report, indent=2))

    inv = report["invoke"]
    print(f"{'per invoke, end to end':<46}{'median s':>10}{'first s':>10}   runs")
    print(
        f"{'lit invoke (warm function, lit run)':<46}{inv['lit']['median_s']:>10}{inv['lit']['first_s']:>10}   {inv['lit']['runs_s']}"
    )
    print(
        f"{'sam local invoke --skip-pull-image':<46}{inv['sam']['median_s']:>10}{inv['sam']['first_s']:>10}   {inv['sam']['runs_s']}"
    )
    print(f"sam / lit: {inv['sam_over_lit']}x   ({report['sam_version']})")
    print(
        f"raw HTTP POST to the warm function: {inv['raw_post_median_ms']} ms; "
        f"function time inside SAM's container: {inv['sam']['function_ms_median']} ms"
    )
    print(
        f"same prediction: {inv['same_prediction']} {inv['top_labels']['lit']} "
        f"(max probability difference {inv['max_probability_diff']:.2g})"
    )
    print(f"SAM containers published {inv['sam_container_ports']}; AWS calls (to the stub): {inv['aws_calls_to_stub']}")
    print(f"\n{'start-up':<46}{'median s':>10}")
    for name, fig in report["startup"].items():
        if "median_s" in fig:
            print(f"{name:<46}{fig['median_s']:>10}")
    it = report["startup"]["importtime lit.cli"]
    print(f"{'importtime: all imports of `import lit.cli`':<46}{it['total_s']:>10}")
    print(f"{'importtime: lit.cli cumulative':<46}{it['lit_cli_cumulative_s']:>10}")
    failed = False
    for name, fig in report["imports"].items():
        print(
            f"{name}: {fig['modules']} modules; not imported: {', '.join(fig['heavy_not_imported'])}; "
            f"imported: {', '.join(fig['heavy_imported']) or 'none of those'}; also: {', '.join(fig['also_imported'])}"
        )
        failed |= bool(fig["heavy_imported"])
    for note in notes:
        print(f"note: {note}")
    if failed or not inv["same_prediction"] or not inv["sam_ports_loopback_only"]:
        sys.exit("FAILED: a heavy module on the CLI's path, different predictions, or a SAM port off loopback")


if __name__ == "__main__":
    main()
