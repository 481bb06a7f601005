"""Taskboard's background job: a project summary, computed off the request path."""

from __future__ import annotations

import uuid

import structlog
from pydantic import BaseModel
from sqlalchemy import func, select

from bastion.jobs import JobContext, JobsRegistry
from bastion.tenancy import tenant_context
from examples.taskboard.models import Project, Task

jobs = JobsRegistry()
log = structlog.get_logger("taskboard")


class SummaryRequest(BaseModel):
    tenant_id: uuid.UUID
    project_id: uuid.UUID


@jobs.task(retries=3, timeout=60)
async def project_summary(payload: SummaryRequest, context: JobContext) -> None:
    """Count a project's open and done tasks. Reads only: running it twice is harmless."""
    assert context.state is not None
    with tenant_context(payload.tenant_id):  # jobs run outside any request
        async with context.state.db.session() as session:
            project = await session.get(Project, payload.project_id)
            if project is None:  # deleted since: nothing to summarise
                return
            counts = dict(
                (
                    await session.execute(
                        select(Task.done, func.count())
                        .where(Task.project_id == project.id)
                        .group_by(Task.done)
                    )
                ).all()
            )
    log.info(
        "taskboard.project_summary",
        project=project.name,
        open=counts.get(False, 0),
        done=counts.get(True, 0),
        job_id=context.job_id,
    )
