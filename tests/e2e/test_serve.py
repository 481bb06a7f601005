"""``bastion serve`` with two uvicorn workers: the probes, docs and API over real HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.e2e.serving import BASTION, REPO_ROOT, free_port
from tests.signin import org_owner_sync

pytestmark = [pytest.mark.e2e, pytest.mark.cli]

TASKBOARD = "examples.taskboard.app:app"
WORKERS = 2
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def get(url: str, *, timeout: float = 1) -> httpx.Response:
    return httpx.get(url, timeout=timeout, trust_env=False)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL for the whole process group if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.process.wait(STOP_TIMEOUT)
        # Workers left behind by a parent that died badly belong to our process group.
        self._kill_group()
        return int(self.process.returncode)

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start_server(tmp: Path, *, migrate: bool = True) -> Server:
    """Migrate a fresh SQLite file with the CLI, then serve the taskboard on it."""
    assert BASTION.is_file(), f"console script not installed at {BASTION}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {
        "BASTION_ENV": "test",
        "BASTION_SECRET_KEY": TEST_SECRET,
        "BASTION_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'serve.db'}",
    }
    if migrate:
        upgraded = subprocess.run(
            [str(BASTION), "--app", TASKBOARD, "db", "upgrade"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert upgraded.returncode == 0, upgraded.stderr

    port = free_port()
    log = tmp / "serve.log"
    command = [str(BASTION), "serve", TASKBOARD, "--host", "127.0.0.1", "--port", str(port)]
    command.extend(["--workers", str(WORKERS)])
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_serving(server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_until_serving(server: Server) -> None:
    """Until /livez answers and every worker has finished its start-up."""
    deadline = time.monotonic() + START_TIMEOUT
    live = False
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"bastion serve exited early:\n{server.output()}")
        if not live:
            with contextlib.suppress(httpx.TransportError):
                live = get(f"{server.base_url}/livez").status_code == 200
        if live and server.output().count("Application startup complete") >= WORKERS:
            return
        time.sleep(0.1)
    pytest.fail(f"bastion serve did not start in {START_TIMEOUT}s:\n{server.output()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must not sit between us and 127.0.0.1.
    with httpx.Client(base_url=server.base_url, timeout=10, trust_env=False) as http:
        yield http


@pytest.mark.parametrize("probe", ["/livez", "/readyz", "/startupz"])
def test_probes_pass(client: httpx.Client, probe: str) -> None:
    response = client.get(probe)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pass"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_and_its_assets_load(client: httpx.Client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # The page runs the bundled scripts: its CSP must allow scripts from this origin.
    assert "'self'" in response.headers["content-security-policy"]
    assets = set(re.findall(r"""(?:href|src)=["'](/docs/static/[^"']+)["']""", response.text))
    assert any(a.endswith(".js") for a in assets), response.text
    for asset in sorted(assets):
        loaded = client.get(asset)
        assert loaded.status_code == 200, asset
        assert loaded.content, asset
    if page == "/docs":
        assert any(a.endswith(".css") for a in assets), response.text


def test_openapi_document(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["info"]["title"] == "Taskboard"
    assert "/projects" in document["paths"]


def test_unknown_path_is_a_problem(client: httpx.Client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404
    assert body["instance"] == "/nope"
    assert body["request_id"] == response.headers["x-request-id"]


def test_create_and_read_project(client: httpx.Client) -> None:
    client.headers.update(org_owner_sync(client))
    created = client.post("/projects", json={"name": "e2e", "description": "over HTTP"})
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["name"] == "e2e"
    # Several reads, so that with two workers both are likely to serve one.
    for _ in range(4):
        fetched = client.get(f"/projects/{project['id']}")
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == project


def test_request_id_header(client: httpx.Client) -> None:
    first = client.get("/livez").headers.get("x-request-id")
    second = client.get("/livez").headers.get("x-request-id")
    assert first
    assert second
    assert first != second
    echoed = client.get("/livez", headers={"X-Request-ID": "e2e-trace.42"})
    assert echoed.headers["x-request-id"] == "e2e-trace.42"


def test_sigterm_shuts_down_every_worker(tmp_path: Path) -> None:
    server = start_server(tmp_path, migrate=False)  # /livez is all this test needs
    try:
        assert get(f"{server.base_url}/livez", timeout=5).status_code == 200
        server.process.send_signal(signal.SIGTERM)
        returncode = server.process.wait(STOP_TIMEOUT)
    finally:
        server.stop()
    output = server.output()
    assert returncode == 0, output
    # Each worker ran the app's shutdown (closing its database pool) before exiting.
    assert output.count("app.stopped") == WORKERS, output
    with pytest.raises(httpx.TransportError):
        get(f"{server.base_url}/livez")
