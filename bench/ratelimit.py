"""Rate limiting on Redis: decisions per second, and what the limiter costs an endpoint.

1. ``redis_decisions_per_s``: Bastion's ``RedisRateLimitStore.hit(key, limits, "gcra")``
   against the ``limits`` library's async Redis moving window
   (``MovingWindowRateLimiter`` over ``limits.aio.storage.RedisStorage``), in this
   process, on the same Redis, with the same number of concurrent tasks sharing
   one client per side, cycling over the same number of keys, under a limit high
   enough that nothing is refused. Bastion's sliding window and the other
   ``limits`` strategies are measured alongside, for information.
2. ``limited_endpoint_rps``: requests per second of a trivial endpoint of a
   Bastion app under the global Redis limiter (a default limit nothing reaches),
   against the same app with rate limiting turned off. Both run under uvicorn on
   127.0.0.1; the load comes from a separate process (aiohttp, keep-alive).

Short rounds alternate between the sides and the medians are compared, so that
the bursts of other work on a shared machine fall on both sides alike.

    .venv/bin/python bench/ratelimit.py            # full: about 4 minutes
    .venv/bin/python bench/ratelimit.py --quick    # under a minute

Redis: ``BASTION_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/0). Every key
lives under a prefix unique to the run and is deleted at the end. The last line
printed is the JSON summary described in DESIGN.md section 6.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from harness import (
    BENCH_DIR,
    HOST,
    HttpRound,
    ResponseCheck,
    base_env,
    fmt,
    load_windows,
    loop_name,
    med,
    run_load_process,
    run_loop,
    run_main,
    serve,
    summary_result,
    uvicorn_settings_text,
)

REDIS_URL = os.environ.get("BASTION_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

DECISIONS_TARGET = 2.0
ENDPOINT_TARGET = 0.70
KEYS = 1000
# Per key; each key gets a few hundred hits in a full run, so nothing is refused.
DECISION_LIMIT = "1000000/hour"
# The global default of the limited app: every load request comes from 127.0.0.1, one
# key, a few hundred thousand hits in a full run.
ENDPOINT_LIMIT = "100000000/hour"
ENDPOINT_PATH = "/ping"  # /livez is excluded from the global limit
# The application arguments of the uvicorn command, for both endpoint targets.
APP_ARGS = ("--app-dir", str(BENCH_DIR), "--factory", "ratelimit:create_bench_app")


def create_bench_app() -> FastAPI:
    """The app both endpoint targets serve (``uvicorn --factory ratelimit:create_bench_app``);
    only their ``BASTION_RATELIMIT__*`` environment differs."""
    from bastion import create_app

    router = APIRouter()

    @router.get(ENDPOINT_PATH)
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return create_app(routers=[router], title="ratelimit bench")


# --- 1. decisions per second -------------------------------------------------------------------

DECISIONS_HEADER = f"{'variant':<31} {'decisions/s':>12} {'client us':>10} {'redis us':>9}"


@dataclass
class Variant:
    name: str
    label: str
    hit: Callable[[str], Awaitable[bool]]  # True when allowed
    rounds: list[dict[str, float | None]] = field(default_factory=list)
    refused: int = 0

    def median(self, metric: str) -> float | None:
        return med([r[metric] for r in self.rounds])


async def redis_cpu(client: Any) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def decisions_round(
    variant: Variant, admin: Any, *, concurrency: int, duration: float
) -> dict[str, float | None]:
    """``concurrency`` tasks deciding back to back for ``duration`` seconds, cycling keys."""
    keys = [f"k{i}" for i in range(KEYS)]
    done = refused = 0
    stop_at = time.perf_counter() + duration

    async def worker(index: int) -> None:
        nonlocal done, refused
        while time.perf_counter() < stop_at:
            allowed = await variant.hit(keys[index % KEYS])
            index += concurrency
            done += 1
            refused += not allowed

    redis_before = await redis_cpu(admin)
    cpu_before, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_before
    redis_used = await redis_cpu(admin) - redis_before
    variant.refused += refused
    return {
        "per_s": done / elapsed,
        "client_us": cpu / done * 1e6 if done else None,
        "redis_us": redis_used / done * 1e6 if done else None,
    }


async def measure_decisions(args: argparse.Namespace, prefix: str) -> tuple[Variant, Variant]:
    import limits
    import redis
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import (
        FixedWindowRateLimiter,
        MovingWindowRateLimiter,
        SlidingWindowCounterRateLimiter,
    )
    from redis.asyncio import Redis

    from bastion.core.redis import open_redis
    from bastion.ratelimit import RedisRateLimitStore, parse_limits

    admin = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await admin.ping()
    except Exception as exc:
        raise RuntimeError(f"Redis at {REDIS_URL} is not reachable: {exc}") from exc

    # Bastion, as create_app builds it: open_redis(BASTION_REDIS_URL) and the store.
    bastion_client = open_redis(REDIS_URL)
    store = RedisRateLimitStore(bastion_client, prefix=f"{prefix}bastion:")
    bastion_limits = parse_limits(DECISION_LIMIT)

    async def bastion_gcra(key: str) -> bool:
        return (await store.hit(key, bastion_limits, "gcra")).allowed

    async def bastion_window(key: str) -> bool:
        return (await store.hit(key, bastion_limits, "sliding_window")).allowed

    # limits: its async Redis storage, on redis-py (coredis, the default implementation,
    # is measured too when installed; the faster moving window is the reference).
    item = limits.parse(DECISION_LIMIT.replace("/", " per "))
    storages: dict[str, Any] = {}
    implementations = ["redispy"]
    with contextlib.suppress(ImportError):
        import coredis  # noqa: F401

        implementations.append("coredis")
    for implementation in implementations:
        storage = RedisStorage(
            f"async+{REDIS_URL}",
            implementation=implementation,  # type: ignore[arg-type]
            key_prefix=f"{prefix}limits-{implementation}",
        )
        if not await storage.check():
            raise RuntimeError(f"limits' RedisStorage ({implementation}) cannot reach Redis")
        storages[implementation] = storage

    def limits_variant(name: str, label: str, strategy: Any) -> Variant:
        # The strategies share the storage and would share keys: namespace them.
        async def hit(key: str) -> bool:
            return bool(await strategy.hit(item, name, key))

        return Variant(name, label, hit)

    moving = [
        limits_variant(
            f"limits_moving_{impl}",
            f"limits moving window ({impl})",
            MovingWindowRateLimiter(storage),
        )
        for impl, storage in storages.items()
    ]
    bastion = Variant("bastion_gcra", "Bastion GCRA", bastion_gcra)
    redispy = storages["redispy"]
    extra = [
        Variant("bastion_window", "Bastion sliding window", bastion_window),
        limits_variant(
            "limits_counter", "limits sliding w. counter", SlidingWindowCounterRateLimiter(redispy)
        ),
        limits_variant("limits_fixed", "limits fixed window", FixedWindowRateLimiter(redispy)),
    ]
    variants = [bastion, *moving, *extra]

    pool = bastion_client.connection_pool
    print("1. redis_decisions_per_s: one decision = one hit on one key, nothing refused")
    print(
        f"   load:    {args.concurrency} asyncio tasks per side in this process ({loop_name()}), "
        f"{KEYS} keys cycling, limit {DECISION_LIMIT} per key, Redis {REDIS_URL}"
    )
    print(
        f"   Bastion: RedisRateLimitStore(open_redis(url)).hit(key, {DECISION_LIMIT!r}, 'gcra'); "
        f"one EVALSHA"
    )
    for impl in storages:
        print(
            f"   limits {limits.__version__}: MovingWindowRateLimiter(RedisStorage("
            f"'async+{REDIS_URL}', implementation={impl!r})).hit(parse({str(item)!r}), key)"
        )
    if "coredis" not in storages:
        print(
            "            (coredis, limits' default async implementation, is not installed; "
            "redis-py is)"
        )
    print(f"   clients: redis-py {redis.__version__}, one client (one pool) per side:")
    for label, client in (("Bastion", bastion_client), ("limits ", redispy.bridge.storage)):
        print(f"            {label} {pool_settings(client.connection_pool)}")
    print(
        f"   rounds:  {args.decision_rounds} x {args.decision_duration:g} s per variant, "
        "alternating; Redis CPU from INFO (all clients of that Redis)"
    )
    print()

    try:
        for variant in variants:  # warm-up: connections opened, scripts loaded
            await decisions_round(variant, admin, concurrency=args.concurrency, duration=0.3)
            variant.refused = 0
        print(f"{'round':>5} {DECISIONS_HEADER}")
        for index in range(args.decision_rounds):
            for variant in variants:
                result = await decisions_round(
                    variant, admin, concurrency=args.concurrency, duration=args.decision_duration
                )
                variant.rounds.append(result)
                print(
                    f"{index + 1:>5} {variant.label:<31} {result['per_s']:>12.0f} "
                    f"{fmt(result['client_us'], '.1f'):>10} {fmt(result['redis_us'], '.1f'):>9}",
                    flush=True,
                )
        print(f"\nmedians of {args.decision_rounds} rounds (us = CPU microseconds per decision)")
        print(f"{DECISIONS_HEADER} {'refused':>8}\n{'-' * (len(DECISIONS_HEADER) + 9)}")
        for variant in variants:
            print(
                f"{variant.label:<31} {variant.median('per_s'):>12.0f} "
                f"{fmt(variant.median('client_us'), '.1f'):>10} "
                f"{fmt(variant.median('redis_us'), '.1f'):>9} {variant.refused:>8}"
            )
        print(
            f"   connections opened: Bastion {opened(pool)}, "
            f"limits {opened(redispy.bridge.storage.connection_pool)}"
        )
        refused = sum(variant.refused for variant in variants)
        if refused:
            raise RuntimeError(f"{refused} decisions were refused; the limit must not be reached")
        reference = max(moving, key=lambda v: v.median("per_s") or 0.0)
        return bastion, reference
    finally:
        await bastion_client.aclose()
        for storage in storages.values():
            with contextlib.suppress(Exception):
                await storage.bridge.storage.aclose()
        await admin.aclose()


def pool_settings(pool: Any) -> str:
    kwargs = pool.connection_kwargs
    parser = getattr(pool.connection_class, "__name__", "?")
    with contextlib.suppress(Exception):
        parser = type(pool.make_connection()._parser).__name__
    return (
        f"{type(pool).__name__}(max_connections={pool.max_connections}, "
        f"socket_timeout={kwargs.get('socket_timeout')}, "
        f"socket_connect_timeout={kwargs.get('socket_connect_timeout')}, "
        f"health_check_interval={kwargs.get('health_check_interval', 0)}), parser {parser}"
    )


def opened(pool: Any) -> str:
    try:
        return str(len(pool._available_connections) + len(pool._in_use_connections))
    except AttributeError:
        return "?"


# --- 2. requests per second of a limited endpoint -------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    env: dict[str, str]
    limited: bool


def http_row(result: HttpRound, label: str) -> str:
    return (
        f"{label:<26} {result.rps:>9.1f} {result.p50_ms:>7.2f} {result.p99_ms:>7.2f} "
        f"{fmt(result.server_us, '.1f'):>11} {fmt(result.server_cpu, '.0f'):>7}%"
    )


HTTP_HEADER = (
    f"{'target':<26} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'srv us/req':>11} {'srv CPU':>8}"
)


def ratelimit_check(target: dict[str, Any]) -> ResponseCheck | None:
    """A limited target must answer with the RateLimit headers every time."""
    if not target["limited"]:
        return None
    return lambda response: "ratelimit" in response.headers


def endpoint_targets(workdir: Path, prefix: str) -> tuple[Target, Target]:
    base = base_env(
        workdir,
        BASTION_REDIS_URL=REDIS_URL,  # both: the client is lazy and only the limiter uses it
        BASTION_LOG__LEVEL="WARNING",
    )
    limited = {
        **base,
        "BASTION_RATELIMIT__ENABLED": "true",
        "BASTION_RATELIMIT__BACKEND": "redis",
        "BASTION_RATELIMIT__DEFAULT": ENDPOINT_LIMIT,
        "BASTION_RATELIMIT__KEY_PREFIX": f"{prefix}app:",
    }
    unlimited = {**base, "BASTION_RATELIMIT__ENABLED": "false"}
    return (
        Target("limited", "Bastion, Redis limiter", limited, limited=True),
        Target("unlimited", "Bastion, no rate limiting", unlimited, limited=False),
    )


def decisions_by_outcome(base_url: str) -> dict[str, float]:
    """The limiter's decision counters, from the server's /metrics."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    outcomes: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("bastion_ratelimit_decisions_total{"):
            labels, value = line.rsplit(" ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            outcomes[outcome] = outcomes.get(outcome, 0.0) + float(value)
    return outcomes


def measure_endpoint(args: argparse.Namespace, prefix: str) -> tuple[HttpRound, HttpRound]:
    import aiohttp
    import fastapi
    import uvicorn

    print(f"2. limited_endpoint_rps: GET {ENDPOINT_PATH} of one Bastion app, two processes")
    print(
        f"   server:  uvicorn {uvicorn.__version__} "
        f"{uvicorn_settings_text()} on {HOST}, fastapi {fastapi.__version__}"
    )
    print(
        f"   limited: BASTION_RATELIMIT__BACKEND=redis BASTION_RATELIMIT__DEFAULT={ENDPOINT_LIMIT} "
        "(per client IP, GCRA, global middleware; timeout and fail mode at their defaults)"
    )
    print("   unlimited: BASTION_RATELIMIT__ENABLED=false, otherwise the same environment")
    print(
        f"   load:    aiohttp {aiohttp.__version__} in its own process, keep-alive, "
        f"{args.concurrency} connections per target; {args.warmup:g} s warm-up per target, "
        f"then {args.rounds} rounds alternating, {args.duration:g} s measured each"
    )
    print()
    with (
        tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        targets = endpoint_targets(Path(tmp), prefix)
        servers = {
            t.name: stack.enter_context(serve(t.name, APP_ARGS, t.env, Path(tmp))) for t in targets
        }
        rounds: dict[str, list[HttpRound]] = {t.name: [] for t in targets}
        load_targets = [
            {
                "name": t.name,
                "url": servers[t.name][0] + ENDPOINT_PATH,
                "pid": servers[t.name][1],
                "limited": t.limited,
            }
            for t in targets
        ]
        labels = {t.name: t.label for t in targets}
        unlimited_answers = 0
        print(f"round {HTTP_HEADER}")
        for window in load_windows(__file__, load_targets, args, labels):
            unlimited_answers += window["check_failures"]
            result = HttpRound.from_window(window, args.duration)
            rounds[window["target"]].append(result)
            print(
                f"{window['round'] + 1:>5} {http_row(result, labels[window['target']])}", flush=True
            )
        outcomes = decisions_by_outcome(servers["limited"][0])

    limited, unlimited = (HttpRound.median(rounds[t.name]) for t in targets)
    print(f"\nmedians of {args.rounds} rounds\n{HTTP_HEADER}\n{'-' * len(HTTP_HEADER)}")
    print(http_row(limited, targets[0].label))
    print(http_row(unlimited, targets[1].label))
    if limited.server_us is not None and unlimited.server_us is not None:
        cost = limited.server_us - unlimited.server_us
        print(
            f"   limiter's server CPU per request: {cost:.1f} us; server CPU per request, "
            f"unlimited / limited: {unlimited.server_us / limited.server_us:.3f}\n"
            "   (steadier than the req/s ratio here: on 2 cores the load generator, Redis and "
            "the server compete)"
        )
    summary = ", ".join(f"{name} {count:.0f}" for name, count in sorted(outcomes.items()))
    print(f"   limited server's decisions (/metrics): {summary or 'none'}")
    failed = sum(v for k, v in outcomes.items() if k.startswith("failed"))
    if failed:
        print(
            f"   note: {failed:.0f} decisions timed out or failed (outcome failed_*): the "
            "default fail mode (open) let those requests through undecided"
        )
    if unlimited_answers:
        print(
            f"   WARNING: {unlimited_answers} measured answers skipped the limiter (no RateLimit "
            "header): the limited figure is too high"
        )
    else:
        print("   every measured answer of the limited server carried the RateLimit headers")
    return limited, unlimited


# --- driver ------------------------------------------------------------------------------------


async def delete_keys(prefix: str) -> int:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        doomed = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(doomed), 1000):
            await client.delete(*doomed[start : start + 1000])
        return len(doomed)
    finally:
        await client.aclose()


def run_benchmark(args: argparse.Namespace) -> int:
    prefix = f"bench-ratelimit:{secrets.token_hex(4)}:"
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; Redis keys under {prefix!r}, "
        "deleted at the end\n"
    )
    try:
        bastion, reference = run_loop(measure_decisions(args, prefix))
        print()
        limited, unlimited = measure_endpoint(args, prefix)
    finally:
        with contextlib.suppress(Exception):
            removed = run_loop(delete_keys(prefix))
            print(f"\ncleanup: deleted {removed} Redis keys under {prefix!r}")

    decision_ratio = bastion.median("per_s") / reference.median("per_s")
    endpoint_ratio = limited.rps / unlimited.rps
    print()
    for name, ratio, target in (
        ("redis_decisions_per_s", decision_ratio, DECISIONS_TARGET),
        ("limited_endpoint_rps", endpoint_ratio, ENDPOINT_TARGET),
    ):
        verdict = "meets" if ratio >= target else "misses"
        print(f"{name}: ratio {ratio:.3f} ({verdict} the target {target})")
    import limits

    summary = {
        "bench": "ratelimit",
        "results": [
            summary_result(
                "redis_decisions_per_s",
                bastion.median("per_s"),
                "decisions/s",
                (
                    f"limits {limits.__version__} MovingWindowRateLimiter, async RedisStorage "
                    f"({reference.name.rsplit('_', 1)[1]})"
                ),
                reference.median("per_s"),
                DECISIONS_TARGET,
            ),
            summary_result(
                "limited_endpoint_rps",
                limited.rps,
                "req/s",
                "same Bastion app, rate limiting disabled",
                unlimited.rps,
                ENDPOINT_TARGET,
            ),
        ],
    }
    print(json.dumps(summary))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (under a minute)")
    parser.add_argument("--concurrency", type=int, default=32, help="tasks / connections (32)")
    parser.add_argument("--decision-rounds", type=int, help="decision rounds (15, quick 5)")
    parser.add_argument("--decision-duration", type=float, help="s per decision round (1.5, 0.5)")
    parser.add_argument("--rounds", type=int, help="HTTP rounds per target (15, quick 8)")
    parser.add_argument("--duration", type=float, help="s measured per HTTP round (2, quick 1)")
    parser.add_argument("--warmup", type=float, help="HTTP warm-up s per target (2, quick 1)")
    parser.add_argument("--load", metavar="SPEC", help=argparse.SUPPRESS)  # load generator
    args = parser.parse_args(argv)
    defaults = {
        "decision_rounds": (5, 15),
        "decision_duration": (0.5, 1.5),
        "rounds": (8, 15),
        "duration": (1.0, 2.0),
        "warmup": (1.0, 2.0),
    }
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main() -> int:
    args = parse_args()
    if args.load:
        return run_load_process(json.loads(args.load), ratelimit_check)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwinds through the cleanups: servers, Redis keys

    signal.signal(signal.SIGTERM, stop)
    return run_main(lambda: run_benchmark(args), "interrupted; servers stopped, Redis keys deleted")


if __name__ == "__main__":
    sys.exit(main())
