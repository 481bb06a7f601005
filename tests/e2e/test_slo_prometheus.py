"""SLO rules in a real Prometheus scraping a real server: the SLIs come out of the HTTP API.

Prometheus (Debian's package, ``make prometheus``) runs on 127.0.0.1 with its own
directory and port, scraping ``bastion serve`` every second.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import service_unavailable
from tests.e2e.serving import BASTION, REPO_ROOT, free_port, ops_env, serving

pytestmark = [pytest.mark.e2e, pytest.mark.ops]

SLOS = {
    "slos": [
        {"name": "work", "sli": "availability", "objective": "99%", "routes": ["/work"]},
        {
            "name": "work-latency",
            "sli": "latency",
            "objective": 99,
            "threshold_ms": 250,
            "routes": ["/work"],
        },
    ]
}


@contextlib.contextmanager
def prometheus(tmp: Path, target_port: int, rules: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        service_unavailable("prometheus", FileNotFoundError("install it: make prometheus"))
    assert binary is not None
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": "ops", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/-/ready", trust_env=False).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def query(url: str, promql: str) -> float | None:
    body = httpx.get(f"{url}/api/v1/query", params={"query": promql}, trust_env=False).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def slo_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BASTION), "ops", "slo", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=ops_env(tmp),
    )
    assert done.returncode == 0, done.stderr
    return done


def test_prometheus_records_the_slis_of_real_traffic(tmp_path: Path) -> None:
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(yaml.safe_dump(SLOS))
    out = tmp_path / "rendered"
    slo_cli(tmp_path, "render", "--slos", str(slo_file), "--out", str(out))
    with (
        serving(tmp_path, ops_env(tmp_path)) as served,
        prometheus(tmp_path, served.port, out / "slo-rules.yaml") as url,
        served.client() as client,
    ):
        # One request in ten fails, for long enough that Prometheus scrapes several times.
        ratio = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            for i in range(20):
                client.get("/work", params={"fail": i % 10 == 0})
            ratio = query(url, 'slo:sli_error:ratio_rate5m{slo="work"}')
            if ratio is not None and time.monotonic() > deadline - 32:
                break  # a value, from at least 8 s of traffic
            time.sleep(0.2)
        assert ratio is not None, "the recording rule never produced a value"
        assert ratio == pytest.approx(0.1, abs=0.03)
        assert query(url, 'slo:burn_rate:ratio_rate5m{slo="work"}') == pytest.approx(10, abs=3)
        assert query(url, 'slo:sli_error:ratio_rate5m{slo="work-latency"}') == 0.0
        remaining = query(url, 'slo:error_budget_remaining:ratio{slo="work"}')
        assert remaining is not None
        assert remaining < -5  # 10% errors against a 1% budget: spent nine times over

        status = slo_cli(tmp_path, "status", "--slos", str(slo_file), "--prometheus", url)
        lines = {line.split()[0]: line for line in status.stdout.splitlines()[1:]}
        # Budget left: overspent for "work" (a negative share), untouched for the latency.
        assert re.search(r" -\d+\.\d% +\d+\.\d\dx ", lines["work"]), status.stdout
        assert re.search(r" 100\.0% +0\.00x ", lines["work-latency"]), status.stdout
