"""An app whose one task records each run in Redis, for the multi-process job tests.

Each run pushes ``<job id>:<pid>`` to ``<prefix>test:starts`` when it begins and
to ``<prefix>test:ends`` when its work is done (before the ack).
"""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel

from bastion import create_app
from bastion.jobs import JobContext, JobsRegistry

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


app = create_app(jobs=jobs)
