"""The current organization of a request, and the checks that use its role.

>>> from fastapi import APIRouter, Depends
>>> router = APIRouter()
>>> @router.get("/reports", dependencies=[Depends(require_permissions("audit:read"))])
... async def reports(org: CurrentOrg) -> dict[str, str]:
...     return {"org": str(org.org_id), "role": org.role}
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import select

import bastion.orgs.roles  # noqa: F401 (defines the built-in roles)
from bastion.auth import CurrentPrincipal, Principal
from bastion.core.context import tenant_id_var
from bastion.core.db import DbSession
from bastion.core.errors import BastionError, ConfigurationError
from bastion.orgs.errors import OrgNotFound, OrgRequired
from bastion.orgs.models import Membership
from bastion.security.abac import Access, Predicate
from bastion.security.errors import Forbidden, ResourceNotFound
from bastion.security.permissions import grants, registered_roles, role_grants, undeclared
from bastion.tenancy.install import tenancy_of
from bastion.tenancy.rls import apply_tenant

T = TypeVar("T")


@dataclass(frozen=True)
class OrgAccess:
    """The caller's standing in the current organization."""

    org_id: uuid.UUID
    role: str
    principal: Principal

    def can(self, permission: str) -> bool:
        """The role grants ``permission``, and the API key (if any) keeps it:
        scopes narrow a key to part of its owner's permissions, never more."""
        scopes = self.principal.scopes
        return role_grants(self.role, permission) and (scopes is None or grants(scopes, permission))


async def current_org(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> OrgAccess:
    """The organization the request names (path ``org_id``, ``X-Tenant-ID``, the
    token's active org or the subdomain, in ``BASTION_TENANCY__SOURCES`` order),
    with the caller's role there; 404 ``org.not_found`` unless the caller is a
    member. Sets the tenant for logs, the ORM filter and row-level security."""
    tenancy = tenancy_of(request.app)
    try:
        org_id = tenancy.requested(request, principal.org_id)
    except ValueError:
        raise OrgNotFound("No such organization.") from None
    if org_id is None:
        raise OrgRequired(f"Name the organization in the {tenancy.settings.header} header.")
    role = await session.scalar(
        select(Membership.role).where(
            Membership.org_id == org_id, Membership.user_id == principal.id
        )
    )
    if role is None:
        raise OrgNotFound("No such organization.")
    tenant_id_var.set(org_id)
    await apply_tenant(session)  # for row-level security on PostgreSQL
    return OrgAccess(org_id, role, principal)


CurrentOrg = Annotated[OrgAccess, Depends(current_org)]


class PermissionCheck:
    """``require_permissions`` / ``require_any_permission`` (found at start-up)."""

    def __init__(self, permissions: Iterable[str], *, any_of: bool = False) -> None:
        self.permissions = tuple(permissions)
        self.any_of = any_of
        if not self.permissions:
            raise ValueError("name at least one permission")

    async def __call__(self, org: CurrentOrg) -> OrgAccess:
        held = [p for p in self.permissions if org.can(p)]
        if self.any_of and held:
            return org
        missing = [p for p in self.permissions if p not in held]
        if missing and not self.any_of:
            raise _forbidden(org, f"the permission {missing[0]}", permission=missing[0])
        if missing:
            wanted = " or ".join(self.permissions)
            raise _forbidden(org, f"one of the permissions {wanted}", permission=wanted)
        return org


class RoleCheck:
    """``require_roles``: the caller's role in the current organization is one of these."""

    def __init__(self, names: Iterable[str]) -> None:
        self.roles = tuple(names)

    async def __call__(self, org: CurrentOrg) -> OrgAccess:
        if org.role not in self.roles:
            raise Forbidden(
                f"This needs the role {' or '.join(self.roles)} in this organization.",
                role=" or ".join(self.roles),
            )
        return org


def _forbidden(org: OrgAccess, what: str, *, permission: str) -> Forbidden:
    narrowed = org.principal.scopes is not None and role_grants(org.role, permission)
    who = "This API key lacks" if narrowed else f"Your role ({org.role}) lacks"
    return Forbidden(f"{who} {what}.", permission=permission)


def require_permissions(*permissions: str) -> PermissionCheck:
    """403 ``authz.forbidden`` unless the caller holds every one of ``permissions``
    in the current organization."""
    return PermissionCheck(permissions)


def require_any_permission(*permissions: str) -> PermissionCheck:
    """403 ``authz.forbidden`` unless the caller holds one of ``permissions``."""
    return PermissionCheck(permissions, any_of=True)


def require_roles(*names: str) -> RoleCheck:
    """403 ``authz.forbidden`` unless the caller's role is one of ``names``."""
    return RoleCheck(names)


def require_abac(
    rule: Predicate,
    load_resource: Callable[..., Awaitable[T | None]],
    *,
    not_found: Callable[[], BastionError] = lambda: ResourceNotFound("No such resource."),
) -> Callable[..., Awaitable[T]]:
    """A dependency that loads the resource once (``load_resource`` is itself a
    dependency: it may take path parameters and the session), checks ``rule``
    and gives the resource to the route. A missing resource and a concealed
    refusal answer the same ``not_found()``; other refusals 403."""

    # A default, not an Annotated hint: hints are strings here, and FastAPI would look
    # ``load_resource`` up in the module rather than in this closure.
    async def check(request: Request, org: CurrentOrg, resource: Any = Depends(load_resource)) -> T:
        if resource is None:
            raise not_found()
        access = Access(org.principal, resource, org.org_id, request, org.can)
        decision = await rule.decide(access)
        if decision.allowed:
            return resource  # type: ignore[no-any-return]
        if decision.conceal:
            raise not_found()
        raise Forbidden(f"Access refused by the rule {decision.rule}.", rule=decision.rule)

    return check


def _checks(routes: Iterable[Any]) -> Iterator[PermissionCheck | RoleCheck]:
    stack = [getattr(route, "dependant", None) for route in routes]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        if isinstance(dependant.call, PermissionCheck | RoleCheck):
            yield dependant.call
        stack.extend(dependant.dependencies)


def check_route_permissions(routes: Iterable[Any]) -> None:
    """Refuse to start when a route requires a permission nobody declared or a
    role nobody defined (a typo would otherwise refuse every request)."""
    names: set[str] = set()
    wanted_roles: set[str] = set()
    for found in _checks(routes):
        if isinstance(found, PermissionCheck):
            names.update(found.permissions)
        else:
            wanted_roles.update(found.roles)
    missing = undeclared(names)
    if missing:
        raise ConfigurationError(
            f"routes require undeclared permissions: {', '.join(missing)}; "
            "declare them with register_permission(name, description)"
        )
    unknown = sorted(wanted_roles - set(registered_roles()))
    if unknown:
        raise ConfigurationError(
            f"routes require undefined roles: {', '.join(unknown)}; define them with define_role"
        )


__all__ = [
    "CurrentOrg",
    "OrgAccess",
    "check_route_permissions",
    "current_org",
    "require_abac",
    "require_any_permission",
    "require_permissions",
    "require_roles",
]
