"""A limit holds exactly across processes: 4 uvicorn servers share one Redis bucket.

200 clients, spread round-robin over the 4 servers, each send one request at
the same moment to a route limited to 100. Exactly 100 must pass and exactly
100 must get a 429 problem: one more either way means the decision is not
atomic across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict
from redis.asyncio import Redis

from tests.conftest import TEST_SECRET

pytestmark = [
    pytest.mark.ratelimit,
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.concurrency,
]

HOST = "127.0.0.1"
APP_DIR = Path(__file__).resolve().parent
REPO_ROOT = APP_DIR.parents[1]
PROCESSES = 4
CLIENTS = 200
LIMIT = 100
READY_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def server_env(
    redis_url: str, prefix: str, database: Path, limit: str, algorithm: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env.update(
        BASTION_ENV="test",
        BASTION_SECRET_KEY=TEST_SECRET,
        BASTION_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        BASTION_REDIS_URL=redis_url,
        BASTION_RATELIMIT__BACKEND="redis",
        BASTION_RATELIMIT__KEY_PREFIX=prefix,
        BASTION_RATELIMIT__DEFAULT="",
        # Time for 50 simultaneous decisions per process on a busy 2-core runner; the
        # route fails closed, so a decision that times out would show up as a 503.
        BASTION_RATELIMIT__TIMEOUT_MS="5000",
        BASTION_LOG__LEVEL="WARNING",
        RATELIMIT_TEST_LIMIT=limit,
        RATELIMIT_TEST_ALGORITHM=algorithm,
    )
    return env


def listening_socket() -> socket.socket:
    """A socket bound to a free port and already listening, handed to uvicorn with
    ``--fd``: no window in which another process could take the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    return sock


def start_server(env: dict[str, str], log: Path) -> Server:
    sock = listening_socket()
    try:
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(APP_DIR),
                    "--factory",
                    "ratelimit_app:create",
                    "--fd",
                    str(sock.fileno()),
                    "--workers",
                    "1",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
                start_new_session=True,
            )
        return Server(sock.getsockname()[1], process, log)
    finally:
        sock.close()  # the child holds its own copy


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def wait_ready(session: aiohttp.ClientSession, server: Server, deadline: float) -> None:
    while True:
        if server.process.poll() is not None:
            pytest.fail(
                f"server on port {server.port} exited with {server.process.returncode}:\n"
                f"{server.output()}"
            )
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(
                f"{server.base_url}/livez", timeout=aiohttp.ClientTimeout(total=1)
            ) as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            pytest.fail(f"server on port {server.port} not ready:\n{server.output()}")
        await asyncio.sleep(0.05)


@contextlib.contextmanager
def running_servers(env: dict[str, str], workdir: Path) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        for index in range(PROCESSES):
            servers.append(start_server(env, workdir / f"server-{index}.log"))
        yield servers
    finally:
        for server in servers:
            stop(server.process)


@pytest.fixture
async def redis_keys(redis_url: str, redis_prefix: str) -> AsyncIterator[str]:
    """This test's key prefix; its keys are deleted afterwards."""
    yield redis_prefix
    client = Redis.from_url(redis_url)
    try:
        doomed = [key async for key in client.scan_iter(match=f"{redis_prefix}*", count=1000)]
        if doomed:
            await client.delete(*doomed)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("limit", "algorithm"),
    [
        pytest.param(f"{LIMIT}/minute", "sliding_window", id="sliding_window"),
        # GCRA lets 100 through at once and then one every 36 s: still exactly 100 here.
        pytest.param(f"{LIMIT}/hour", "gcra", id="gcra"),
    ],
)
async def test_limit_is_exact_across_four_processes(
    redis_url: str, redis_keys: str, tmp_path: Path, limit: str, algorithm: str
) -> None:
    env = server_env(redis_url, redis_keys, tmp_path / "app.db", limit, algorithm)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    with running_servers(env, tmp_path) as servers:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            deadline = time.monotonic() + READY_TIMEOUT_S
            await asyncio.gather(*(wait_ready(session, server, deadline) for server in servers))
            urls = [servers[i % PROCESSES].base_url for i in range(CLIENTS)]

            # Open one keep-alive connection per client, and each process's Redis
            # connections, so that the burst below is all decisions and no set-up.
            async def warm(base_url: str) -> int:
                async with session.get(f"{base_url}/warm") as response:
                    await response.read()
                    return response.status

            warm_statuses = await asyncio.gather(*(warm(url) for url in urls))
            assert set(warm_statuses) == {200}, Counter(warm_statuses)

            start = asyncio.Event()

            async def client(base_url: str) -> tuple[int, CIMultiDict[str], object]:
                await start.wait()
                async with session.get(f"{base_url}/hit") as response:
                    body = await response.json(content_type=None)
                    return response.status, CIMultiDict(response.headers), body

            tasks = [asyncio.create_task(client(url)) for url in urls]
            await asyncio.sleep(0)  # every client is now waiting on the event
            start.set()
            results = await asyncio.gather(*tasks)

    statuses = Counter(status for status, _, _ in results)
    logs = "" if set(statuses) <= {200, 429} else "\n".join(s.output() for s in servers)
    assert statuses == {200: LIMIT, 429: CLIENTS - LIMIT}, f"{statuses}\n{logs}"
    for status, headers, body in results:
        if status == 429:
            assert isinstance(body, dict)
            assert body["code"] == "rate_limit.exceeded", body
            assert headers["Content-Type"].startswith("application/problem+json")
            # Both limits free a slot within a minute (GCRA 100/hour: one every 36 s).
            assert 1 <= int(headers["Retry-After"]) <= 60, headers
            assert headers["RateLimit"].startswith('"exact";r=0;'), headers
        else:
            assert body == {"ok": True}
            assert headers["RateLimit"].startswith('"exact";r='), headers
            assert "Retry-After" not in headers
