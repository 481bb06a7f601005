"""HTTP overhead of Bastion's default stack: ``GET /livez`` requests per second.

Compares the taskboard reference app (``examples.taskboard.app:app``, so Bastion's
whole default middleware stack and problem handlers, as ``create_app`` installs
them) with a bare FastAPI app serving the same endpoint. Both run under
uvicorn on 127.0.0.1 with the same settings, each in its own process; the load
comes from a third process (aiohttp, keep-alive pools, fixed concurrency).

Short rounds alternate between the two targets and the medians are compared: on
a shared 2-core machine other work comes and goes in bursts of seconds, and
short alternating rounds spread each burst over both targets alike.

    .venv/bin/python bench/http_overhead.py            # 15 rounds of 2 s per target
    .venv/bin/python bench/http_overhead.py --quick    # 8 rounds of 1 s per target

The last line printed is the JSON summary described in DESIGN.md section 6.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The bare server imports this module: heavy imports stay inside the functions using them,
# so that its process holds no more than a bare FastAPI app.
if TYPE_CHECKING:
    import aiohttp
    from fastapi import FastAPI

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TARGET_RATIO = 0.85
READY_TIMEOUT_S = 30.0
SETTLE_S = 0.1  # unmeasured lead-in of each round, after the switch between targets

# Identical for both targets; only the application argument differs.
UVICORN_SETTINGS = {
    "--workers": "1",
    "--loop": "auto",
    "--http": "auto",
    "--log-level": "warning",
}
UVICORN_FLAGS = ["--no-access-log"]


def create_bare_app() -> FastAPI:
    """The reference: bare FastAPI with the same ``/livez`` handler as Bastion's."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "pass"}

    return app


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    uvicorn_app: tuple[str, ...]  # the application arguments of the uvicorn command


TARGETS = (
    Target("bastion", "Bastion (taskboard)", ("examples.taskboard.app:app",)),
    Target(
        "bare",
        "bare FastAPI",
        ("--app-dir", str(BENCH_DIR), "--factory", "http_overhead:create_bare_app"),
    ),
)


@dataclass(frozen=True)
class RoundResult:
    """One measured window, or the per-field medians of several."""

    rps: float
    p50_ms: float
    p99_ms: float
    server_us_per_request: float | None  # None where /proc is missing
    server_cpu_percent: float | None  # of one core
    client_cpu_percent: float

    @classmethod
    def median(cls, rounds: list[RoundResult]) -> RoundResult:
        def med(values: list[float | None]) -> float | None:
            known = [value for value in values if value is not None]
            return statistics.median(known) if known else None

        return cls(
            rps=statistics.median(r.rps for r in rounds),
            p50_ms=statistics.median(r.p50_ms for r in rounds),
            p99_ms=statistics.median(r.p99_ms for r in rounds),
            server_us_per_request=med([r.server_us_per_request for r in rounds]),
            server_cpu_percent=med([r.server_cpu_percent for r in rounds]),
            client_cpu_percent=statistics.median(r.client_cpu_percent for r in rounds),
        )

    def row(self, label: str) -> str:
        us = "n/a" if self.server_us_per_request is None else f"{self.server_us_per_request:.1f}"
        srv = "n/a" if self.server_cpu_percent is None else f"{self.server_cpu_percent:.0f}%"
        return (
            f"{label:<20} {self.rps:>10.1f} {self.p50_ms:>7.2f} {self.p99_ms:>7.2f} "
            f"{us:>11} {srv:>8} {self.client_cpu_percent:>9.0f}%"
        )


TABLE_HEADER = (
    f"{'target':<20} {'req/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'srv us/req':>11} {'srv CPU':>8} {'load CPU':>10}"
)


# --- load generator (its own process: ``--load SPEC``) -----------------------------------------


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far, or None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" closing the command name, utime and stime are fields 12 and 13.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load_window(
    session: aiohttp.ClientSession,
    url: str,
    server_pid: int,
    *,
    concurrency: int,
    settle: float,
    duration: float,
) -> dict[str, Any]:
    """Keep ``concurrency`` requests in flight for ``settle + duration`` seconds; measure the
    requests completed in the last ``duration`` seconds, and the CPU both sides used then."""
    import aiohttp

    latencies: list[float] = []
    errors: list[str] = []
    window_start = time.perf_counter() + settle
    window_end = window_start + duration
    cpu: dict[str, float | None] = {"server": None, "client": 0.0}

    async def worker() -> None:
        while (sent := time.perf_counter()) < window_end and not errors:
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors.append(f"HTTP {response.status}")
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            if window_start <= (done := time.perf_counter()) <= window_end:
                latencies.append(done - sent)

    async def measure_cpu() -> None:
        await asyncio.sleep(window_start - time.perf_counter())
        server_before, client_before = _cpu_seconds(server_pid), time.process_time()
        await asyncio.sleep(window_end - time.perf_counter())
        server_after, cpu["client"] = _cpu_seconds(server_pid), time.process_time() - client_before
        if server_before is not None and server_after is not None:
            cpu["server"] = server_after - server_before

    cpu_task = asyncio.create_task(measure_cpu())
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if errors:
        cpu_task.cancel()
    else:
        await cpu_task
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {
        "requests": len(latencies),
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "server_cpu_s": cpu["server"],
        "client_cpu_s": cpu["client"],
        "errors": errors[:5],
        "error_count": len(errors),
    }


async def _generate_load(spec: dict[str, Any]) -> int:
    """Warm each target up, then alternate measured windows between them, printing one
    JSON line per window. Each target keeps its own pool of keep-alive connections."""
    import aiohttp

    targets = spec["targets"]
    timeout = aiohttp.ClientTimeout(total=30)
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=spec["concurrency"]), timeout=timeout
                )
            )
            for _ in targets
        ]
        for index in range(-1, spec["rounds"]):
            warmup = index < 0
            for target, session in zip(targets, sessions, strict=True):
                result = await _load_window(
                    session,
                    target["url"],
                    target["pid"],
                    concurrency=spec["concurrency"],
                    settle=spec["warmup"] if warmup else SETTLE_S,
                    duration=0 if warmup else spec["duration"],
                )
                if result["error_count"] or not warmup:
                    print(json.dumps({"round": index, "target": target["name"], **result}))
                    sys.stdout.flush()
                if result["error_count"]:
                    return 1
    return 0


def run_load_process(spec: dict[str, Any]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_generate_load(spec))
    # The cheaper the client, the more of the machine is left to the server.
    return uvloop.run(_generate_load(spec))


# --- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT_S}s:\n{log_path.read_text()}")


@contextlib.contextmanager
def serve(target: Target, env: dict[str, str], workdir: Path) -> Iterator[tuple[str, int]]:
    """Run ``target`` under uvicorn; yield its ``/livez`` URL and server pid."""
    port = free_port()
    settings = [item for pair in UVICORN_SETTINGS.items() for item in pair]
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        *target.uvicorn_app,
        "--host",
        HOST,
        "--port",
        str(port),
        *settings,
        *UVICORN_FLAGS,
    ]
    log_path = workdir / f"{target.name}.log"
    with log_path.open("wb") as log_file:
        # Own session: Ctrl-C reaches only this script, which then stops the server itself.
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://{HOST}:{port}/livez"
        wait_ready(url, process, log_path)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_env(workdir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BASTION_")}
    env.update(
        BASTION_ENV="test",
        BASTION_SECRET_KEY=secrets.token_urlsafe(30),  # 40 characters
        BASTION_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
    )
    return env


# --- driver ------------------------------------------------------------------------------------


def measure(
    servers: dict[Target, tuple[str, int]], args: argparse.Namespace
) -> Iterator[tuple[int, Target, RoundResult]]:
    """Run the load generator; yield each measured window as it ends."""
    by_name = {target.name: target for target in servers}
    spec = {
        "targets": [
            {"name": target.name, "url": url, "pid": pid} for target, (url, pid) in servers.items()
        ],
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "duration": args.duration,
    }
    command = [sys.executable, __file__, "--load", json.dumps(spec)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            for line in process.stdout:
                window = json.loads(line)
                target = by_name[window["target"]]
                if window["error_count"]:
                    raise RuntimeError(
                        f"{window['error_count']} failed requests to {target.label}: "
                        f"{window['errors']}"
                    )
                yield window["round"], target, to_round_result(window, args.duration)
        finally:
            if process.poll() is None:
                process.kill()
    if process.returncode != 0:
        raise RuntimeError(f"load generator exited with {process.returncode}")


def to_round_result(window: dict[str, Any], duration: float) -> RoundResult:
    server_cpu_s = window["server_cpu_s"]
    requests = window["requests"]
    return RoundResult(
        rps=requests / duration,
        p50_ms=window["p50_ms"],
        p99_ms=window["p99_ms"],
        server_us_per_request=(
            None if server_cpu_s is None or not requests else server_cpu_s / requests * 1e6
        ),
        server_cpu_percent=None if server_cpu_s is None else server_cpu_s / duration * 100,
        client_cpu_percent=window["client_cpu_s"] / duration * 100,
    )


def print_settings(args: argparse.Namespace) -> None:
    import aiohttp
    import fastapi
    import starlette
    import uvicorn

    uvicorn_settings = " ".join(f"{k} {v}" for k, v in UVICORN_SETTINGS.items())
    print(f"server: uvicorn {uvicorn.__version__} {uvicorn_settings} {' '.join(UVICORN_FLAGS)}")
    print(f"        on {HOST} (loop auto = uvloop, http auto = httptools when installed)")
    print(f"        fastapi {fastapi.__version__}, starlette {starlette.__version__}, ", end="")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(
        f"load:   aiohttp {aiohttp.__version__} in its own process, keep-alive, "
        f"{args.concurrency} connections per target, GET /livez"
    )
    print(
        f"rounds: {args.warmup:g} s warm-up per target, then {args.rounds} rounds alternating "
        f"Bastion / bare, {args.duration:g} s measured each (after {SETTLE_S:g} s settling)"
    )
    print()


def run_benchmark(args: argparse.Namespace) -> int:
    print_settings(args)
    rounds: dict[Target, list[RoundResult]] = {target: [] for target in TARGETS}
    print(f"round {TABLE_HEADER}")
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        env = server_env(workdir)
        servers = {target: stack.enter_context(serve(target, env, workdir)) for target in TARGETS}
        for index, target, result in measure(servers, args):
            rounds[target].append(result)
            print(f"{index + 1:>5} {result.row(target.label)}", flush=True)

    bastion, bare = (RoundResult.median(rounds[target]) for target in TARGETS)
    ratio = bastion.rps / bare.rps
    paired = statistics.median(
        a.rps / b.rps for a, b in zip(*(rounds[target] for target in TARGETS), strict=True)
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"\nmedians of {args.rounds} rounds\n{TABLE_HEADER}\n{'-' * len(TABLE_HEADER)}")
    for target, median in zip(TARGETS, (bastion, bare), strict=True):
        print(median.row(target.label))
    print(f"\nratio Bastion / bare: {ratio:.3f} ({verdict} the target {TARGET_RATIO})")
    print(f"median of the per-round ratios: {paired:.3f}")
    if bastion.server_us_per_request and bare.server_us_per_request:
        cpu_ratio = bare.server_us_per_request / bastion.server_us_per_request
        print(f"server CPU per request, bare / Bastion: {cpu_ratio:.3f}")
    summary = {
        "bench": "http_overhead",
        "results": [
            {
                "name": "livez_rps_full_stack",
                "value": round(bastion.rps, 1),
                "unit": "req/s",
                "reference": "bare FastAPI",
                "reference_value": round(bare.rps, 1),
                "ratio": round(ratio, 3),
                "target_ratio": TARGET_RATIO,
            }
        ],
    }
    print(json.dumps(summary))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 rounds of 1 s (under a minute)")
    parser.add_argument("--rounds", type=int, help="rounds per target (default 15, quick 8)")
    parser.add_argument("--duration", type=float, help="seconds measured per round (2, quick 1)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per target (2, quick 1)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    # Internal: run as the load generator, with a JSON spec of the targets.
    parser.add_argument("--load", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = (8, 1.0, 1.0) if args.quick else (15, 2.0, 2.0)
    for name, default in zip(("rounds", "duration", "warmup"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


def main() -> int:
    args = parse_args()
    if args.load:
        return run_load_process(json.loads(args.load))
    # On SIGTERM too, unwind through the clean-up that stops the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return run_benchmark(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
