"""Start ``bastion serve`` on a free port of 127.0.0.1 and stop it, for the ops e2e tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET

REPO_ROOT = Path(__file__).resolve().parents[2]
BASTION = Path(sys.executable).parent / "bastion"
OPS_APP = "tests.e2e.ops_app:app"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self) -> httpx.Client:
        # trust_env=False: no proxy from the environment between us and 127.0.0.1.
        return httpx.Client(base_url=self.base_url, timeout=10, trust_env=False)


def ops_env(tmp: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {
        "BASTION_ENV": "test",
        "BASTION_SECRET_KEY": TEST_SECRET,
        "BASTION_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'ops.db'}",
        "BASTION_LOG__JSON": "true",
    }
    return env | settings


@contextlib.contextmanager
def serving(tmp: Path, env: dict[str, str], app: str = OPS_APP) -> Iterator[Served]:
    """``bastion serve app`` in its own session; killed with its group when the block ends."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    command = [str(BASTION), "serve", app, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(process, port, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Application startup complete" not in served.output():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bastion serve did not start:\n{served.output()}")
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
