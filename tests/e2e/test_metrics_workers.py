"""``/metrics`` of ``bastion serve --workers 2``: every scrape reports every worker's counts."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_serve import WORKERS, Server, start_server
from tests.signin import org_owner_sync

pytestmark = [pytest.mark.ops, pytest.mark.e2e]

REQUESTS = 60
SCRAPES = 8
DURATION = "http_server_request_duration_seconds"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    # The CLI makes its metrics directory under TMPDIR: here, where the test can see it.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    running = start_server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def counts(text: str, route: str) -> dict[str, float]:
    """Requests per status code of ``route``, from one scrape."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == DURATION:
            for sample in family.samples:
                if sample.name.endswith("_count") and sample.labels["http_route"] == route:
                    status = sample.labels["http_response_status_code"]
                    found[status] = found.get(status, 0) + sample.value
    return found


def active(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "http_server_active_requests"
        for sample in family.samples
    )


def test_counts_add_up_across_workers(server: Server, tmp_path: Path) -> None:
    [directory] = tmp_path.glob("bastion-metrics-*")
    # Each worker wrote its pool gauges at start-up, into files named by its pid.
    pids = {re.sub(r"\D", "", path.name) for path in directory.glob("gauge_livesum_*.db")}
    assert len(pids) == WORKERS, sorted(os.listdir(directory))

    with httpx.Client(base_url=server.base_url, timeout=10, trust_env=False) as client:
        headers = org_owner_sync(client)
        created = client.post("/projects", json={"name": "metrics"}, headers=headers)
        assert created.status_code == 201, created.text
        project = created.json()["id"]

    def fetch(path: str) -> int:
        # A connection per request, so that both workers take some.
        url = f"{server.base_url}{path}"
        return httpx.get(url, headers=headers, timeout=10, trust_env=False).status_code

    paths = [f"/projects/{project}"] * REQUESTS + [f"/missing/{i}" for i in range(REQUESTS)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(fetch, paths))
    assert statuses == [200] * REQUESTS + [404] * REQUESTS

    # Else the sums below would prove nothing about merging.
    served_by = {path.name for path in directory.glob("histogram_*.db")}
    assert len(served_by) == WORKERS, f"one worker took every request: {served_by}"

    for _ in range(SCRAPES):
        scraped = httpx.get(f"{server.base_url}/metrics", timeout=10, trust_env=False)
        assert scraped.status_code == 200
        assert counts(scraped.text, "/projects/{project_id}") == {"200": REQUESTS}
        assert counts(scraped.text, "/projects") == {"201": 1}
        assert counts(scraped.text, "<unmatched>") == {"404": REQUESTS}
        assert active(scraped.text) == 1  # the scrape itself, whichever worker serves it

    server.stop()
    assert not directory.exists(), "bastion serve left its metrics directory behind"
