"""Permissions declared in code, and roles that grant them.

A permission is ``resource:action`` (``project:write``). Roles grant
permissions by name or by pattern: ``project:*`` is every action on projects,
``*`` is everything. Declarations happen at import time, like problem codes;
a route naming a permission nobody declared stops the app at start-up
(:func:`undeclared`).

>>> _ = register_permission("doc_report:read", "Read reports")
>>> define_role("doc_auditor", "doc_report:read")
>>> role_grants("doc_auditor", "doc_report:read"), role_grants("doc_auditor", "doc_report:write")
(True, False)
>>> grants({"doc_report:*"}, "doc_report:write")
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Permission",
    "define_role",
    "extend_role",
    "grants",
    "register_permission",
    "registered_permissions",
    "registered_roles",
    "role_grants",
    "role_permissions",
    "undeclared",
]

NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,60}:[a-z][a-z0-9_.-]{0,60}$")
PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_.-]{0,60}:(\*|[a-z][a-z0-9_.-]{0,60}))$")


@dataclass(frozen=True)
class Permission:
    name: str
    description: str


_permissions: dict[str, Permission] = {}
_roles: dict[str, set[str]] = {}


def register_permission(name: str, description: str) -> Permission:
    """Declare ``name``; declaring it again with another description is an error."""
    if not NAME.match(name):
        raise ValueError(f"permission {name!r} is not of the form resource:action")
    entry = Permission(name, description)
    existing = _permissions.setdefault(name, entry)
    if existing != entry:
        raise ValueError(f"permission {name!r} is already declared as {existing.description!r}")
    return entry


def registered_permissions() -> dict[str, Permission]:
    """Every declared permission, sorted by name."""
    return dict(sorted(_permissions.items()))


def grants(patterns: Iterable[str], permission: str) -> bool:
    """Whether any of ``patterns`` (names, ``resource:*`` or ``*``) covers ``permission``."""
    accepted = {"*", permission, permission.partition(":")[0] + ":*"}
    return any(pattern in accepted for pattern in patterns)


def define_role(name: str, *permissions: str) -> None:
    """Declare a role granting ``permissions`` (names or patterns); re-defining
    replaces its grants."""
    _roles[name] = _checked(permissions)


def extend_role(name: str, *permissions: str) -> None:
    """Grant more ``permissions`` to an existing role (an app adds its own
    permissions to the built-in ``admin``, ``member``, ``viewer``)."""
    if name not in _roles:
        raise KeyError(f"no role {name!r}; define it with define_role")
    _roles[name] |= _checked(permissions)


def role_permissions(name: str) -> frozenset[str]:
    """The patterns ``name`` grants (empty for an unknown role)."""
    return frozenset(_roles.get(name, ()))


def registered_roles() -> dict[str, frozenset[str]]:
    return {name: frozenset(grants) for name, grants in _roles.items()}


def role_grants(role: str, permission: str) -> bool:
    return grants(_roles.get(role, ()), permission)


def undeclared(names: Iterable[str]) -> list[str]:
    """Which of ``names`` nobody declared."""
    return sorted({name for name in names if name not in _permissions})


def _checked(permissions: Iterable[str]) -> set[str]:
    patterns = set(permissions)
    bad = sorted(p for p in patterns if not PATTERN.match(p))
    if bad:
        raise ValueError(f"not permissions or patterns: {', '.join(bad)}")
    return patterns
