"""HTTP benchmarking machinery shared by the bench scripts.

Not a benchmark itself: run ``bench/http_overhead.py`` or ``bench/ratelimit.py``
(each with ``--quick`` for a run under a minute).

Servers run under uvicorn on 127.0.0.1, each in its own process and session; the load
comes from a separate process (aiohttp, keep-alive pools, fixed concurrency) that
alternates short measured windows between the targets and prints one JSON line per
window. A bench script spawns itself as that process (``--load SPEC``, see
``load_windows``) and calls ``run_load_process`` there.

Servers import the bench scripts (``uvicorn --app-dir bench --factory ...``), and so this
module: it imports nothing beyond the standard library at module level.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
READY_TIMEOUT_S = 30.0
SETTLE_S = 0.1  # unmeasured lead-in of each round, after the switch between targets

# Identical for every target; only the application arguments and environment differ.
UVICORN_SETTINGS = {
    "--workers": "1",
    "--loop": "auto",
    "--http": "auto",
    "--log-level": "warning",
}
UVICORN_FLAGS = ["--no-access-log"]

# Given a response, True when it passes; failures are counted, not errors.
ResponseCheck = Callable[["aiohttp.ClientResponse"], bool]


def uvicorn_settings_text() -> str:
    """The settings and flags every server runs with, as on the command line."""
    settings = " ".join(f"{k} {v}" for k, v in UVICORN_SETTINGS.items())
    return f"{settings} {' '.join(UVICORN_FLAGS)}"


# --- small helpers -----------------------------------------------------------------------------


def med(values: list[float | None]) -> float | None:
    """Median of the known values, or None when none is known."""
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far, or None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" closing the command name, utime and stime are fields 12 and 13.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_loop(coro: Awaitable[Any]) -> Any:
    """uvloop when installed: the cheaper the client, the more of the machine is left to the
    server (and it is what uvicorn, ``--loop auto``, runs the app on)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


def loop_name() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return f"uvloop {uvloop.__version__}"


def summary_result(
    name: str,
    value: float,
    unit: str,
    reference: str,
    reference_value: float,
    target_ratio: float,
) -> dict[str, Any]:
    """One entry of the ``results`` of the JSON summary (DESIGN.md section 6)."""
    return {
        "name": name,
        "value": round(value, 1),
        "unit": unit,
        "reference": reference,
        "reference_value": round(reference_value, 1),
        "ratio": round(value / reference_value, 3),
        "target_ratio": target_ratio,
    }


def run_main(benchmark: Callable[[], int], interrupted: str) -> int:
    """Run ``benchmark``; report a RuntimeError (exit 1) or an interruption (exit 130)."""
    try:
        return benchmark()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130


# --- measured rounds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRound:
    """One measured window, or the per-field medians of several."""

    rps: float
    p50_ms: float
    p99_ms: float
    server_us: float | None  # server CPU microseconds per request; None where /proc is missing
    server_cpu: float | None  # server CPU, percent of one core
    client_cpu: float  # load generator CPU, percent of one core

    @classmethod
    def from_window(cls, window: dict[str, Any], duration: float) -> HttpRound:
        server_s = window["server_cpu_s"]
        requests = window["requests"]
        return cls(
            rps=requests / duration,
            p50_ms=window["p50_ms"],
            p99_ms=window["p99_ms"],
            server_us=None if server_s is None or not requests else server_s / requests * 1e6,
            server_cpu=None if server_s is None else server_s / duration * 100,
            client_cpu=window["client_cpu_s"] / duration * 100,
        )

    @classmethod
    def median(cls, rounds: list[HttpRound]) -> HttpRound:
        return cls(
            rps=statistics.median(r.rps for r in rounds),
            p50_ms=statistics.median(r.p50_ms for r in rounds),
            p99_ms=statistics.median(r.p99_ms for r in rounds),
            server_us=med([r.server_us for r in rounds]),
            server_cpu=med([r.server_cpu for r in rounds]),
            client_cpu=statistics.median(r.client_cpu for r in rounds),
        )


# --- load generator (its own process) ----------------------------------------------------------


async def load_window(
    session: aiohttp.ClientSession,
    url: str,
    server_pid: int,
    *,
    concurrency: int,
    settle: float,
    duration: float,
    check: ResponseCheck | None = None,
) -> dict[str, Any]:
    """Keep ``concurrency`` requests in flight for ``settle + duration`` seconds; measure the
    requests completed in the last ``duration`` seconds, and the CPU both sides used then.
    ``check_failures`` counts the responses ``check`` rejects."""
    import aiohttp

    latencies: list[float] = []
    errors: list[str] = []
    check_failures = 0
    window_start = time.perf_counter() + settle
    window_end = window_start + duration
    cpu: dict[str, float | None] = {"server": None, "client": 0.0}

    async def worker() -> None:
        nonlocal check_failures
        while (sent := time.perf_counter()) < window_end and not errors:
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors.append(f"HTTP {response.status}")
                    if check is not None and not check(response):
                        check_failures += 1
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            if window_start <= (done := time.perf_counter()) <= window_end:
                latencies.append(done - sent)

    async def measure_cpu() -> None:
        await asyncio.sleep(window_start - time.perf_counter())
        server_before, client_before = cpu_seconds(server_pid), time.process_time()
        await asyncio.sleep(window_end - time.perf_counter())
        server_after, cpu["client"] = cpu_seconds(server_pid), time.process_time() - client_before
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
        "check_failures": check_failures,
        "errors": errors[:5],
        "error_count": len(errors),
    }


async def generate_load(
    spec: dict[str, Any],
    make_check: Callable[[dict[str, Any]], ResponseCheck | None] | None = None,
) -> int:
    """Warm each target up, then alternate measured windows between them, printing one
    JSON line per window. Each target keeps its own pool of keep-alive connections.
    ``make_check`` gives the response check of a target of the spec, if any."""
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
        checks = [make_check(target) if make_check else None for target in targets]
        for index in range(-1, spec["rounds"]):
            warmup = index < 0
            for target, session, check in zip(targets, sessions, checks, strict=True):
                result = await load_window(
                    session,
                    target["url"],
                    target["pid"],
                    concurrency=spec["concurrency"],
                    settle=spec["warmup"] if warmup else SETTLE_S,
                    duration=0 if warmup else spec["duration"],
                    check=check,
                )
                if result["error_count"] or not warmup:
                    print(json.dumps({"round": index, "target": target["name"], **result}))
                    sys.stdout.flush()
                if result["error_count"]:
                    return 1
    return 0


def run_load_process(
    spec: dict[str, Any],
    make_check: Callable[[dict[str, Any]], ResponseCheck | None] | None = None,
) -> int:
    return int(run_loop(generate_load(spec, make_check)))


def load_windows(
    script: str, targets: list[dict[str, Any]], args: Any, labels: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """Run ``script --load SPEC`` as the load generator against ``targets`` (each with its
    ``name``, ``url`` and server ``pid``), with the ``concurrency``, ``warmup``, ``rounds``
    and ``duration`` of ``args``; yield each measured window as it ends. ``labels`` names
    the targets, by name, in error messages."""
    spec = {
        "targets": targets,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "duration": args.duration,
    }
    command = [sys.executable, script, "--load", json.dumps(spec)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            for line in process.stdout:
                window = json.loads(line)
                if window["error_count"]:
                    raise RuntimeError(
                        f"{window['error_count']} failed requests to "
                        f"{labels[window['target']]}: {window['errors']}"
                    )
                yield window
        finally:
            if process.poll() is None:
                process.kill()
    if process.returncode != 0:
        raise RuntimeError(f"load generator exited with {process.returncode}")


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


def base_env(workdir: Path, **extra: str) -> dict[str, str]:
    """This environment without its ``BASTION_*`` variables, plus a test configuration
    (fresh secret key, SQLite database in ``workdir``) and ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BASTION_")}
    env.update(
        BASTION_ENV="test",
        BASTION_SECRET_KEY=secrets.token_urlsafe(30),  # 40 characters
        BASTION_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        **extra,
    )
    return env


@contextlib.contextmanager
def serve(
    name: str, app_args: tuple[str, ...], env: dict[str, str], workdir: Path
) -> Iterator[tuple[str, int]]:
    """Run uvicorn with the application arguments ``app_args`` and ``env`` (its log in
    ``workdir/NAME.log``); once ``/livez`` answers, yield its base URL and server pid."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        *app_args,
        "--host",
        HOST,
        "--port",
        str(port),
        *[item for pair in UVICORN_SETTINGS.items() for item in pair],
        *UVICORN_FLAGS,
    ]
    log_path = workdir / f"{name}.log"
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
        base = f"http://{HOST}:{port}"
        wait_ready(f"{base}/livez", process, log_path)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def in_process_main(
    doc: str,
    run: Callable[[Any, Path], Awaitable[dict[str, Any]]],
    *,
    quick: dict[str, Any],
    full: dict[str, Any],
) -> int:
    """``main`` of an in-process benchmark: ``--quick`` picks the ``quick`` sizes,
    ``run(args, workdir)`` measures in a temporary directory, its JSON is the last line."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    args = parser.parse_args()
    vars(args).update(quick if args.quick else full)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(json.dumps(result))
    return 0
