"""The FastAPI dependency that gives a route the app's :class:`JobQueue`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bastion.jobs.service import JobQueue


def job_queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.bastion.extensions["jobs"]
    return queue


Jobs = Annotated[JobQueue, Depends(job_queue)]
"""A route's handle on the queue:

>>> from fastapi import APIRouter
>>> router = APIRouter()
>>> @router.post("/reports")
... async def report(jobs: Jobs) -> dict[str, str]:
...     return {"job_id": "..."}
"""
