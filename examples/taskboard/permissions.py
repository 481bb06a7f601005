"""The taskboard's permissions and what each built-in role gets of them.

| permission      | owner | admin | member | viewer |
| --------------- | ----- | ----- | ------ | ------ |
| project:read    | yes   | yes   | yes    | yes    |
| project:write   | yes   | yes   |        |        |
| task:write      | yes   | yes   | yes    |        |
"""

from __future__ import annotations

from bastion.security.permissions import extend_role, register_permission

PROJECT_READ, PROJECT_WRITE, TASK_WRITE = "project:read", "project:write", "task:write"

register_permission(PROJECT_READ, "See projects and their tasks")
register_permission(PROJECT_WRITE, "Create, change and delete projects")
register_permission(TASK_WRITE, "Create, change and delete tasks")
extend_role("admin", PROJECT_READ, PROJECT_WRITE, TASK_WRITE)
extend_role("member", PROJECT_READ, TASK_WRITE)
extend_role("viewer", PROJECT_READ)
