"""The taskboard reference app: ``bastion serve examples.taskboard.app:app``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from bastion import BastionSettings, bastion_state, create_app
from examples.taskboard.events import TaskEvents
from examples.taskboard.jobs import jobs
from examples.taskboard.router import router
from examples.taskboard.seed import demo_project
from examples.taskboard.webhooks import webhooks

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def build(settings: BastionSettings | None = None) -> FastAPI:
    """The app, with ``settings`` from the environment unless given."""
    events = TaskEvents()
    app = create_app(
        settings,
        title="Taskboard",
        description="A project and task tracker built on Bastion.",
        routers=[router],
        migrations=MIGRATIONS,
        seeders={"taskboard.demo_project": demo_project},
        outbox_handlers={"task.created": events.on_task_created},
        jobs=jobs,
        webhooks=webhooks,
    )
    events.bind(bastion_state(app).extensions["metrics"])
    return app


app = build()
