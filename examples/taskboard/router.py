"""Projects and tasks CRUD with cursor pagination."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from bastion import DbSession, Page, PageParams, paginate
from bastion.core.errors import BastionError
from bastion.jobs import Jobs
from examples.taskboard.jobs import SummaryRequest, project_summary
from examples.taskboard.models import Project, Task
from examples.taskboard.schemas import (
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    TaskIn,
    TaskOut,
    TaskPatch,
)


class ProjectNotFound(BastionError):
    code = "taskboard.project_not_found"
    status = 404
    title = "Project not found"


class TaskNotFound(BastionError):
    code = "taskboard.task_not_found"
    status = 404
    title = "Task not found"


router = APIRouter(prefix="/projects", tags=["projects"])
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


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_project(body: ProjectIn, session: DbSession) -> ProjectOut:
    project = Project(name=body.name, description=body.description)
    session.add(project)
    await session.flush()
    return ProjectOut.model_validate(project)


@router.get("")
async def list_projects(session: DbSession, params: Params) -> Page[ProjectOut]:
    rows, cursor = await paginate(
        session, select(Project), Project.id, cursor=params.cursor, limit=params.limit
    )
    return Page(items=[ProjectOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{project_id}", responses=_404)
async def get_project(project_id: uuid.UUID, session: DbSession) -> ProjectOut:
    return ProjectOut.model_validate(await _project(session, project_id))


@router.patch("/{project_id}", responses=_404)
async def update_project(
    project_id: uuid.UUID, body: ProjectPatch, session: DbSession
) -> ProjectOut:
    project = await _project(session, project_id)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(project, field, value)
    await session.flush()
    return ProjectOut.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_404)
async def delete_project(project_id: uuid.UUID, session: DbSession) -> Response:
    await session.delete(await _project(session, project_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{project_id}/tasks", status_code=status.HTTP_201_CREATED, responses=_404)
async def create_task(project_id: uuid.UUID, body: TaskIn, session: DbSession) -> TaskOut:
    await _project(session, project_id)
    task = Task(project_id=project_id, title=body.title, done=body.done)
    session.add(task)
    await session.flush()
    return TaskOut.model_validate(task)


@router.get("/{project_id}/tasks", responses=_404)
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


@router.get("/{project_id}/tasks/{task_id}", responses=_404)
async def get_task(project_id: uuid.UUID, task_id: uuid.UUID, session: DbSession) -> TaskOut:
    return TaskOut.model_validate(await _task(session, project_id, task_id))


@router.patch("/{project_id}/tasks/{task_id}", responses=_404)
async def update_task(
    project_id: uuid.UUID, task_id: uuid.UUID, body: TaskPatch, session: DbSession
) -> TaskOut:
    task = await _task(session, project_id, task_id)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(task, field, value)
    await session.flush()
    return TaskOut.model_validate(task)


@router.delete(
    "/{project_id}/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_404
)
async def delete_task(project_id: uuid.UUID, task_id: uuid.UUID, session: DbSession) -> Response:
    await session.delete(await _task(session, project_id, task_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{project_id}/summary", status_code=status.HTTP_202_ACCEPTED, responses=_404)
async def request_summary(project_id: uuid.UUID, session: DbSession, jobs: Jobs) -> dict[str, str]:
    """Summarise the project in the background (one pending summary per project)."""
    await _project(session, project_id)
    job_id = await jobs.enqueue(
        project_summary, SummaryRequest(project_id=project_id), dedupe_key=f"summary:{project_id}"
    )
    return {"job_id": job_id}


@router.get("/summaries/{job_id}", responses=_404)
async def summary_job(job_id: str, jobs: Jobs) -> dict[str, object]:
    """Where a summary job stands: queued, running, done or dead, and its attempts."""
    info = await jobs.get(job_id)
    return {"state": info.state, "attempts": info.attempts, "error": info.error}
