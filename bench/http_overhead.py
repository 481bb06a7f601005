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
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness import (
    BENCH_DIR,
    HOST,
    SETTLE_S,
    HttpRound,
    base_env,
    fmt,
    load_windows,
    run_load_process,
    run_main,
    serve,
    summary_result,
    uvicorn_settings_text,
)

# The bare server imports this module: heavy imports stay inside the functions using them,
# so that its process holds no more than a bare FastAPI app.
if TYPE_CHECKING:
    from fastapi import FastAPI

TARGET_RATIO = 0.85


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


def row(result: HttpRound, label: str) -> str:
    srv = "n/a" if result.server_cpu is None else f"{result.server_cpu:.0f}%"
    return (
        f"{label:<20} {result.rps:>10.1f} {result.p50_ms:>7.2f} {result.p99_ms:>7.2f} "
        f"{fmt(result.server_us, '.1f'):>11} {srv:>8} {result.client_cpu:>9.0f}%"
    )


TABLE_HEADER = (
    f"{'target':<20} {'req/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'srv us/req':>11} {'srv CPU':>8} {'load CPU':>10}"
)


# --- driver ------------------------------------------------------------------------------------


def measure(
    servers: dict[Target, tuple[str, int]], args: argparse.Namespace
) -> Iterator[tuple[int, Target, HttpRound]]:
    """Run the load generator; yield each measured window as it ends."""
    by_name = {target.name: target for target in servers}
    targets = [
        {"name": target.name, "url": f"{base}/livez", "pid": pid}
        for target, (base, pid) in servers.items()
    ]
    labels = {target.name: target.label for target in servers}
    for window in load_windows(__file__, targets, args, labels):
        result = HttpRound.from_window(window, args.duration)
        yield window["round"], by_name[window["target"]], result


def print_settings(args: argparse.Namespace, sides: str = "Bastion / bare") -> None:
    import aiohttp
    import fastapi
    import starlette
    import uvicorn

    print(f"server: uvicorn {uvicorn.__version__} {uvicorn_settings_text()}")
    print(f"        on {HOST} (loop auto = uvloop, http auto = httptools when installed)")
    print(f"        fastapi {fastapi.__version__}, starlette {starlette.__version__}, ", end="")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(
        f"load:   aiohttp {aiohttp.__version__} in its own process, keep-alive, "
        f"{args.concurrency} connections per target, GET /livez"
    )
    print(
        f"rounds: {args.warmup:g} s warm-up per target, then {args.rounds} rounds alternating "
        f"{sides}, {args.duration:g} s measured each (after {SETTLE_S:g} s settling)"
    )
    print()


def run_rounds(
    targets: tuple[Target, ...], args: argparse.Namespace
) -> dict[Target, list[HttpRound]]:
    """Serve every target, measure the alternating rounds, print each; the rounds by target."""
    rounds: dict[Target, list[HttpRound]] = {target: [] for target in targets}
    print(f"round {TABLE_HEADER}")
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        env = base_env(workdir)
        servers = {
            target: stack.enter_context(serve(target.name, target.uvicorn_app, env, workdir))
            for target in targets
        }
        for index, target, result in measure(servers, args):
            rounds[target].append(result)
            print(f"{index + 1:>5} {row(result, target.label)}", flush=True)
    return rounds


def run_benchmark(args: argparse.Namespace) -> int:
    print_settings(args)
    rounds = run_rounds(TARGETS, args)
    bastion, bare = (HttpRound.median(rounds[target]) for target in TARGETS)
    ratio = bastion.rps / bare.rps
    paired = statistics.median(
        a.rps / b.rps for a, b in zip(*(rounds[target] for target in TARGETS), strict=True)
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"\nmedians of {args.rounds} rounds\n{TABLE_HEADER}\n{'-' * len(TABLE_HEADER)}")
    for target, median in zip(TARGETS, (bastion, bare), strict=True):
        print(row(median, target.label))
    print(f"\nratio Bastion / bare: {ratio:.3f} ({verdict} the target {TARGET_RATIO})")
    print(f"median of the per-round ratios: {paired:.3f}")
    if bastion.server_us and bare.server_us:
        cpu_ratio = bare.server_us / bastion.server_us
        print(f"server CPU per request, bare / Bastion: {cpu_ratio:.3f}")
    summary = {
        "bench": "http_overhead",
        "results": [
            summary_result(
                "livez_rps_full_stack", bastion.rps, "req/s", "bare FastAPI", bare.rps, TARGET_RATIO
            )
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


def main(benchmark: Callable[[argparse.Namespace], int] = run_benchmark) -> int:
    """Run ``benchmark`` (or, spawned with ``--load``, the load generator)."""
    args = parse_args()
    if args.load:
        return run_load_process(json.loads(args.load))
    # On SIGTERM too, unwind through the clean-up that stops the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    return run_main(lambda: benchmark(args), "interrupted; servers stopped")


if __name__ == "__main__":
    sys.exit(main())
