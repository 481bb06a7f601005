"""The taskboard reference app: ``bastion serve examples.taskboard.app:app``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from bastion import BastionSettings, create_app
from examples.taskboard.jobs import jobs
from examples.taskboard.router import router
from examples.taskboard.seed import demo_project

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def build(settings: BastionSettings | None = None) -> FastAPI:
    """The app, with ``settings`` from the environment unless given."""
    return create_app(
        settings,
        title="Taskboard",
        description="A project and task tracker built on Bastion.",
        routers=[router],
        migrations=MIGRATIONS,
        seeders={"taskboard.demo_project": demo_project},
        jobs=jobs,
    )


app = build()
