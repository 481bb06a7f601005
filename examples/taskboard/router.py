"""Projects and tasks CRUD with cursor pagination, inside the caller's organization.

Every route takes the organization from ``X-Tenant-ID`` (``current_org``) and
checks a permission of the caller's role there. A project of another
organization answers 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select

from bastion import DbSession, Page, PageParams, paginate
from bastion.core.errors import BastionError
from bastion.orgs import CurrentOrg, require_abac, require_permissions
from bastion.security.abac import all_of, any_of, has_permission, owns_resource, same_org
from examples.taskboard import permissions as perm
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


def _can(permission: str) -> list[Any]:
    return [Depends(require_permissions(permission))]


async def _load_project(session: DbSession, project_id: uuid.UUID) -> Project | None:
    return await session.get(Project, project_id)


def _in_org(rule: Any = None) -> Any:
    """The path's project, once, if it is in the caller's organization (and ``rule``
    allows); 404 ``taskboard.project_not_found`` otherwise."""
    check = same_org() if rule is None else all_of(same_org(), rule)
    return Depends(require_abac(check, _load_project, not_found=_project_not_found))


def _project_not_found() -> ProjectNotFound:
    return ProjectNotFound("No project has this id.")


InOrg = Annotated[Project, _in_org()]
# Members delete the projects they created (while they may write); project:delete, any.
_DELETE = any_of(
    all_of(owns_resource("created_by"), has_permission(perm.PROJECT_WRITE)),
    has_permission(perm.PROJECT_DELETE),
)
Deletable = Annotated[Project, _in_org(_DELETE)]


async def _task(session: DbSession, project: Project, task_id: uuid.UUID) -> Task:
    task = await session.get(Task, task_id)
    if task is None or task.project_id != project.id:
        raise TaskNotFound(f"Project {project.id} has no task {task_id}.")
    return task


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=_can(perm.PROJECT_WRITE))
async def create_project(body: ProjectIn, session: DbSession, org: CurrentOrg) -> ProjectOut:
    project = Project(
        name=body.name,
        description=body.description,
        org_id=org.org_id,
        created_by=org.principal.id,
    )
    session.add(project)
    await session.flush()
    return ProjectOut.model_validate(project)


@router.get("", dependencies=_can(perm.PROJECT_READ))
async def list_projects(session: DbSession, params: Params, org: CurrentOrg) -> Page[ProjectOut]:
    query = select(Project).where(Project.org_id == org.org_id)
    rows, cursor = await paginate(
        session, query, Project.id, cursor=params.cursor, limit=params.limit
    )
    return Page(items=[ProjectOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{project_id}", responses=_404, dependencies=_can(perm.PROJECT_READ))
async def get_project(project: InOrg) -> ProjectOut:
    return ProjectOut.model_validate(project)


@router.patch("/{project_id}", responses=_404, dependencies=_can(perm.PROJECT_WRITE))
async def update_project(body: ProjectPatch, session: DbSession, project: InOrg) -> ProjectOut:
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(project, field, value)
    await session.flush()
    return ProjectOut.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_404)
async def delete_project(session: DbSession, project: Deletable) -> Response:
    await session.delete(project)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{project_id}/tasks",
    status_code=status.HTTP_201_CREATED,
    responses=_404,
    dependencies=_can(perm.TASK_WRITE),
)
async def create_task(body: TaskIn, session: DbSession, project: InOrg) -> TaskOut:
    task = Task(project_id=project.id, title=body.title, done=body.done)
    session.add(task)
    await session.flush()
    return TaskOut.model_validate(task)


@router.get("/{project_id}/tasks", responses=_404, dependencies=_can(perm.TASK_READ))
async def list_tasks(
    session: DbSession,
    params: Params,
    project: InOrg,
    done: Annotated[bool | None, Query(description="Only tasks with this state.")] = None,
) -> Page[TaskOut]:
    query = select(Task).where(Task.project_id == project.id)
    if done is not None:
        query = query.where(Task.done == done)
    rows, cursor = await paginate(session, query, Task.id, cursor=params.cursor, limit=params.limit)
    return Page(items=[TaskOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{project_id}/tasks/{task_id}", responses=_404, dependencies=_can(perm.TASK_READ))
async def get_task(task_id: uuid.UUID, session: DbSession, project: InOrg) -> TaskOut:
    return TaskOut.model_validate(await _task(session, project, task_id))


@router.patch("/{project_id}/tasks/{task_id}", responses=_404, dependencies=_can(perm.TASK_WRITE))
async def update_task(
    task_id: uuid.UUID, body: TaskPatch, session: DbSession, project: InOrg
) -> TaskOut:
    task = await _task(session, project, task_id)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(task, field, value)
    await session.flush()
    return TaskOut.model_validate(task)


@router.delete(
    "/{project_id}/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_404,
    dependencies=_can(perm.TASK_WRITE),
)
async def delete_task(task_id: uuid.UUID, session: DbSession, project: InOrg) -> Response:
    await session.delete(await _task(session, project, task_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
