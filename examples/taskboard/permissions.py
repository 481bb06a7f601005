"""The taskboard's permissions, and what each built-in role gets of them.

| permission     | owner | admin | member | viewer |
| -------------- | ----- | ----- | ------ | ------ |
| project:read   | yes   | yes   | yes    | yes    |
| project:write  | yes   | yes   | yes    |        |
| project:delete | yes   | yes   | own    |        |
| task:read      | yes   | yes   | yes    | yes    |
| task:write     | yes   | yes   | yes    |        |

A member may delete the projects they created (an ABAC rule in the router).
"""

from __future__ import annotations

from bastion.orgs import ADMIN, MEMBER, VIEWER
from bastion.security.permissions import extend_role, register_permission

PROJECT_READ = register_permission("project:read", "See projects").name
PROJECT_WRITE = register_permission("project:write", "Create and edit projects").name
PROJECT_DELETE = register_permission("project:delete", "Delete any project").name
TASK_READ = register_permission("task:read", "See tasks").name
TASK_WRITE = register_permission("task:write", "Create, edit and delete tasks").name

extend_role(ADMIN, "project:*", "task:*")
extend_role(MEMBER, PROJECT_READ, PROJECT_WRITE, TASK_READ, TASK_WRITE)
extend_role(VIEWER, PROJECT_READ, TASK_READ)
