"""``BASTION_JOBS__*`` settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from bastion.core.checks import CheckMessage
from bastion.core.settings import CsvList, split_csv


class JobsSettings(BaseModel):
    """The job queue: where jobs live, how workers claim and run them, and cron."""

    backend: Literal["auto", "memory", "sql", "redis"] = Field(
        "auto",
        description="Where jobs live; auto is Redis when BASTION_REDIS_URL is set, SQL else.",
    )
    embedded_worker: bool | None = Field(
        None,
        description="Run a worker and the scheduler inside the API process; default on in "
        "development.",
    )
    concurrency: int = Field(10, ge=1, description="Jobs one worker runs at once.")
    queues: CsvList = Field(
        default_factory=lambda: ["default"], description="Queues a worker takes jobs from."
    )
    lease_seconds: float = Field(
        30.0, gt=0, description="How long a claimed job stays owned without a heartbeat."
    )
    heartbeat_seconds: float = Field(
        10.0, gt=0, description="How often a worker renews the leases of its running jobs."
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="Longest wait of an idle worker between two claims."
    )
    grace_seconds: float = Field(
        25.0, ge=0, description="On SIGTERM, how long running jobs may finish before release."
    )
    catch_up: Literal["once", "skip"] = Field(
        "once", description="After downtime, run a missed cron tick once, or skip it."
    )
    cron_lateness_seconds: float = Field(
        60.0, gt=0, description="A tick older than this counts as missed (see catch_up)."
    )
    schedule_file: str | None = Field(
        None, description="A YAML file of cron schedules to add to the app's."
    )
    key_prefix: str = Field("bastion:jobs:", description="Prefix of the Redis keys.")
    finished_retention_hours: float = Field(
        24.0, gt=0, description="How long finished jobs stay queryable before cleanup."
    )

    _split = field_validator("queues", mode="before")(split_csv)

    def embedded(self, *, development: bool) -> bool:
        return development if self.embedded_worker is None else self.embedded_worker

    def checks(self, *, has_redis: bool) -> list[CheckMessage]:
        found = []
        if self.backend == "redis" and not has_redis:
            found.append(
                CheckMessage(
                    "jobs.E001",
                    "error",
                    "The Redis job backend needs Redis.",
                    "Set BASTION_REDIS_URL or BASTION_JOBS__BACKEND=sql.",
                )
            )
        if self.heartbeat_seconds >= self.lease_seconds:
            found.append(
                CheckMessage(
                    "jobs.E002",
                    "error",
                    "The heartbeat is not shorter than the lease: running jobs would be re-run.",
                    "Keep BASTION_JOBS__HEARTBEAT_SECONDS well below LEASE_SECONDS (a third).",
                )
            )
        return found
