"""The deployment templates under deploy/: manifests that parse, agree with each other
and with the app (probe paths the app serves), and a Terraform skeleton in canonical form."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.routing import APIRoute

from bastion import BastionSettings
from examples.taskboard.app import build
from tests.unit.test_docs import _settings_variables

pytestmark = [pytest.mark.ops]

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


def manifests() -> dict[str, dict[str, Any]]:
    """Every object of deploy/kubernetes by ``Kind/name``."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            for field in ("apiVersion", "kind", "metadata"):
                assert field in document, f"{path.name}: an object without {field}"
            objects[f"{document['kind']}/{document['metadata']['name']}"] = document
    return objects


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    return manifests()


def app_container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = objects["Deployment/taskboard"]["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "app")


def test_every_kind_is_there(objects: dict[str, dict[str, Any]]) -> None:
    assert {key.split("/")[0] for key in objects} >= {
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "CronJob",
    }


def test_probes_use_paths_the_app_serves(objects: dict[str, dict[str, Any]]) -> None:
    app = build(BastionSettings(env="test", database_url="sqlite+aiosqlite:///:memory:"))
    served = {route.path for route in app.routes if isinstance(route, APIRoute)}
    container = app_container(objects)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    expected = {"startupProbe": "/startupz", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert get["path"] in served
        assert get["port"] in ports


def test_grace_period_outlasts_prestop_drain_and_grace(objects: dict[str, dict[str, Any]]) -> None:
    pod = objects["Deployment/taskboard"]["spec"]["template"]["spec"]
    container = app_container(objects)
    env = {item["name"]: item["value"] for item in container["env"]}
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    needed = (
        float(pre_stop[1])
        + float(env["BASTION_SHUTDOWN__DRAIN_SECONDS"])
        + float(env["BASTION_SHUTDOWN__GRACE_SECONDS"])
    )
    assert pod["terminationGracePeriodSeconds"] > needed


def test_manifests_set_only_real_settings(objects: dict[str, dict[str, Any]]) -> None:
    known = _settings_variables(BastionSettings)
    env = [item["name"] for item in app_container(objects)["env"]]
    for variable in [*env, *objects["ConfigMap/taskboard"]["data"]]:
        assert variable == "BASTION_APP" or variable in known, variable


def test_selectors_and_targets_agree(objects: dict[str, dict[str, Any]]) -> None:
    deployment = objects["Deployment/taskboard"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objects["Service/taskboard"]["spec"]["selector"].items() <= labels.items()
    pdb = objects["PodDisruptionBudget/taskboard"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["minAvailable"] < deployment["spec"]["replicas"]
    target = objects["HorizontalPodAutoscaler/taskboard"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "taskboard")
    hpa = objects["HorizontalPodAutoscaler/taskboard"]["spec"]
    assert hpa["minReplicas"] > pdb["minAvailable"]


def test_backup_job_runs_the_script_that_exists(objects: dict[str, dict[str, Any]]) -> None:
    job = objects["CronJob/taskboard-backup-verify"]["spec"]["jobTemplate"]["spec"]["template"]
    command = job["spec"]["containers"][0]["command"]
    script = DEPLOY / "backup" / Path(command[0]).name
    assert command[0].endswith("deploy/backup/verify-backup.sh")
    assert script.is_file() and script.stat().st_mode & 0o111


def test_terraform_is_in_canonical_form() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed")
    checked = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", str(DEPLOY / "terraform")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {p.name for p in (DEPLOY / "terraform").glob("*.tf")} >= {"main.tf", "outputs.tf"}
