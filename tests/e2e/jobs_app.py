"""An app for the job tests that run ``bastion`` processes.

``record`` pushes ``<job id>:<pid>`` to ``<prefix>test:starts`` in Redis when it
begins and to ``<prefix>test:ends`` when its work is done (before the ack);
``explode`` always fails; ``nightly`` is a cron task.
"""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel

from bastion import create_app
from bastion.jobs import Empty, JobContext, JobsRegistry

jobs = JobsRegistry()


class Work(BaseModel):
    seconds: float = 0.005


@jobs.task(retries=3)
async def record(payload: Work, context: JobContext) -> None:
    assert context.state is not None and context.state.redis is not None
    redis = context.state.redis
    prefix = os.environ["BASTION_JOBS__KEY_PREFIX"]
    mark = f"{context.job_id}:{os.getpid()}"
    await redis.rpush(prefix + "test:starts", mark)  # type: ignore[misc]
    await asyncio.sleep(payload.seconds)
    await redis.rpush(prefix + "test:ends", mark)  # type: ignore[misc]


@jobs.task(retries=0)
async def explode(payload: Work) -> None:
    raise RuntimeError("exploded")


@jobs.cron("0 3 * * *", timezone="Europe/Paris")
async def nightly(payload: Empty) -> None:
    return None


app = create_app(jobs=jobs)
