"""Projects and tasks CRUD with cursor pagination, per organization.

The organization comes from ``X-Tenant-ID`` (or the token's active org); every
route checks a permission of the caller's role there (``permissions.py``), and
the ORM sees only that organization's rows. Creation honours
``Idempotency-Key``; every project and task carries an ``ETag`` and accepts
``If-Match`` on writes; a new task emits ``task.created`` through the outbox, in
the same transaction as the task, and new projects and tasks and changed tasks
are published to the organization's webhook endpoints (``webhooks.py``); an
organization's plan may cap its projects.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bastion import DbSession, Page, PageParams, paginate
from bastion.core.errors import BastionError
from bastion.idempotency import Idempotent, IdempotentRoute, IfMatchHeader, set_etag
from bastion.jobs import JobNotFound, Jobs
from bastion.orgs import CurrentOrg, require_abac, require_permissions
from bastion.outbox import add as emit
from bastion.security.abac import all_of, any_of, has_permission, owns_resource
from bastion.tenancy import require_quota
from examples.taskboard.jobs import SummaryRequest, project_summary
from examples.taskboard.models import Project, Task
from examples.taskboard.permissions import (
    PROJECT_DELETE,
    PROJECT_READ,
    PROJECT_WRITE,
    TASK_READ,
    TASK_WRITE,
)
from examples.taskboard.schemas import (
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    TaskIn,
    TaskOut,
    TaskPatch,
)
from examples.taskboard.webhooks import webhooks


class ProjectNotFound(BastionError):
    code = "taskboard.project_not_found"
    status = 404
    title = "Project not found"


class TaskNotFound(BastionError):
    code = "taskboard.task_not_found"
    status = 404
    title = "Task not found"


async def count_projects(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Project)) or 0)


router = APIRouter(prefix="/projects", tags=["projects"], route_class=IdempotentRoute)
# The permission check resolves the organization, so it comes first.
read = [Depends(require_permissions(PROJECT_READ))]
read_tasks = [Depends(require_permissions(TASK_READ))]
write_project = [Depends(require_permissions(PROJECT_WRITE))]
write_task = [Depends(require_permissions(TASK_WRITE))]
create_project_deps = [
    *write_project,
    Depends(require_quota("projects", count_projects)),
    Depends(Idempotent()),
]
create_task_deps = [*write_task, Depends(Idempotent())]
Params = Annotated[PageParams, Query()]
_404 = {404: {"description": "Not found (problem+json)"}}


async def _project(session: DbSession, project_id: uuid.UUID) -> Project:
    project = await session.get(Project, project_id)
    if project is None:
        raise ProjectNotFound(f"No project has id {project_id}.")
    return project


async def _task(session: DbSession, project_id: uuid.UUID, task_id: uuid.UUID) -> Task:
    task = await session.get(Task, task_id)
    if task is None or task.project_id != project_id:
        raise TaskNotFound(f"Project {project_id} has no task {task_id}.")
    return task


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=create_project_deps)
async def create_project(
    body: ProjectIn, session: DbSession, response: Response, org: CurrentOrg
) -> ProjectOut:
    project = Project(name=body.name, description=body.description, created_by=org.principal.id)
    session.add(project)
    await session.flush()
    out = ProjectOut.model_validate(project)
    await webhooks.publish(session, "project.created", out, tenant_id=org.org_id)
    response.headers["Location"] = f"/projects/{project.id}"
    set_etag(response, project)
    return out


@router.get("", dependencies=read)
async def list_projects(session: DbSession, params: Params) -> Page[ProjectOut]:
    rows, cursor = await paginate(
        session, select(Project), Project.id, cursor=params.cursor, limit=params.limit
    )
    return Page(items=[ProjectOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{project_id}", responses=_404, dependencies=read)
async def get_project(project_id: uuid.UUID, session: DbSession, response: Response) -> ProjectOut:
    project = await _project(session, project_id)
    set_etag(response, project)
    return ProjectOut.model_validate(project)


@router.patch("/{project_id}", responses=_404, dependencies=write_project)
async def update_project(
    project_id: uuid.UUID,
    body: ProjectPatch,
    session: DbSession,
    response: Response,
    precondition: IfMatchHeader,
) -> ProjectOut:
    project = await _project(session, project_id)
    precondition.check(project)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(project, field, value)
    await session.flush()
    set_etag(response, project)
    return ProjectOut.model_validate(project)


async def _load_project(session: DbSession, project_id: uuid.UUID) -> Project | None:
    return await session.get(Project, project_id)


# Members delete the projects they made (while they may write); project:delete, any.
deletable = require_abac(
    any_of(
        all_of(owns_resource("created_by"), has_permission(PROJECT_WRITE)),
        has_permission(PROJECT_DELETE),
    ),
    _load_project,
    not_found=lambda: ProjectNotFound("No project has this id."),
)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_404)
async def delete_project(
    session: DbSession,
    precondition: IfMatchHeader,
    project: Annotated[Project, Depends(deletable)],
) -> Response:
    precondition.check(project)
    await session.delete(project)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{project_id}/tasks",
    status_code=status.HTTP_201_CREATED,
    responses=_404,
    dependencies=create_task_deps,
)
async def create_task(
    project_id: uuid.UUID, body: TaskIn, session: DbSession, response: Response, org: CurrentOrg
) -> TaskOut:
    await _project(session, project_id)
    task = Task(project_id=project_id, title=body.title, done=body.done)
    session.add(task)
    await session.flush()
    emit(session, "task.created", {"id": str(task.id)}, key=str(project_id))
    out = TaskOut.model_validate(task)
    await webhooks.publish(session, "task.created", out, tenant_id=org.org_id)
    response.headers["Location"] = f"/projects/{project_id}/tasks/{task.id}"
    set_etag(response, task)
    return out


@router.get("/{project_id}/tasks", responses=_404, dependencies=read_tasks)
async def list_tasks(
    project_id: uuid.UUID,
    session: DbSession,
    params: Params,
    done: Annotated[bool | None, Query(description="Only tasks with this state.")] = None,
) -> Page[TaskOut]:
    await _project(session, project_id)
    query = select(Task).where(Task.project_id == project_id)
    if done is not None:
        query = query.where(Task.done == done)
    rows, cursor = await paginate(session, query, Task.id, cursor=params.cursor, limit=params.limit)
    return Page(items=[TaskOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{project_id}/tasks/{task_id}", responses=_404, dependencies=read_tasks)
async def get_task(
    project_id: uuid.UUID, task_id: uuid.UUID, session: DbSession, response: Response
) -> TaskOut:
    task = await _task(session, project_id, task_id)
    set_etag(response, task)
    return TaskOut.model_validate(task)


@router.patch("/{project_id}/tasks/{task_id}", responses=_404, dependencies=write_task)
async def update_task(
    project_id: uuid.UUID,
    task_id: uuid.UUID,
    body: TaskPatch,
    session: DbSession,
    response: Response,
    precondition: IfMatchHeader,
    org: CurrentOrg,
) -> TaskOut:
    task = await _task(session, project_id, task_id)
    precondition.check(task)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(task, field, value)
    await session.flush()
    out = TaskOut.model_validate(task)
    await webhooks.publish(session, "task.updated", out, tenant_id=org.org_id)
    set_etag(response, task)
    return out


@router.delete(
    "/{project_id}/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_404,
    dependencies=write_task,
)
async def delete_task(
    project_id: uuid.UUID, task_id: uuid.UUID, session: DbSession, precondition: IfMatchHeader
) -> Response:
    task = await _task(session, project_id, task_id)
    precondition.check(task)
    await session.delete(task)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{project_id}/summary",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_404,
    dependencies=read,
)
async def request_summary(
    project_id: uuid.UUID, session: DbSession, jobs: Jobs, org: CurrentOrg
) -> dict[str, str]:
    """Summarise the project in the background (one pending summary per project)."""
    await _project(session, project_id)
    job_id = await jobs.enqueue(
        project_summary,
        SummaryRequest(tenant_id=org.org_id, project_id=project_id),
        dedupe_key=f"summary:{project_id}",
    )
    return {"job_id": job_id}


@router.get("/summaries/{job_id}", responses=_404, dependencies=read)
async def summary_job(job_id: str, jobs: Jobs, org: CurrentOrg) -> dict[str, object]:
    """Where a summary job stands: queued, running, done or dead, and its attempts.
    Another organization's job is not found."""
    info = await jobs.get(job_id)
    if info.task != project_summary.name or (
        SummaryRequest.model_validate_json(info.payload).tenant_id != org.org_id
    ):
        raise JobNotFound(f"No job {job_id}.")
    return {"state": info.state, "attempts": info.attempts, "error": info.error}
