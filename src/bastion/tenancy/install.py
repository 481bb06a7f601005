"""Turn tenancy on for an app: ORM filtering, RLS settings, quotas, resolution."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from bastion.core.checks import CheckMessage, raise_for_errors
from bastion.core.errors import ConfigurationError
from bastion.core.state import BastionState, bastion_state
from bastion.tenancy.quotas import Quotas
from bastion.tenancy.resolve import requested_tenant
from bastion.tenancy.rls import follow_tenant_in_transactions, tables_under_policy
from bastion.tenancy.scoping import scope_database
from bastion.tenancy.settings import TenancySettings

log = structlog.get_logger("bastion.tenancy")
_NAMED = 5  # tables named in the error; the rest are counted


@dataclass
class Tenancy:
    """An app's tenancy: how tenants are named, and their quotas."""

    settings: TenancySettings
    quotas: Quotas

    def requested(self, request: Request, token_org: uuid.UUID | None) -> uuid.UUID | None:
        """The tenant the request names (see :func:`requested_tenant`)."""
        s = self.settings
        return requested_tenant(
            request,
            sources=s.sources,
            header=s.header,
            token_org=token_org,
            subdomain_base=s.subdomain_base,
        )


def install_tenancy(settings: TenancySettings, state: BastionState) -> Tenancy:
    """Scope the app's database by tenant and keep :class:`Tenancy` on the state."""
    scope_database(state.db)
    if settings.rls:
        follow_tenant_in_transactions(state.db)
    tenancy = state.extensions["tenancy"] = Tenancy(
        settings, Quotas(state.db, settings.default_quotas)
    )
    return tenancy


def tenancy_of(app: Any) -> Tenancy:
    found = bastion_state(app).extensions.get("tenancy")
    if not isinstance(found, Tenancy):
        raise ConfigurationError("tenancy is not installed; the app was not built by create_app")
    return found


async def check_rls_role(state: BastionState) -> None:
    """At start-up, with tenancy on and ``BASTION_TENANCY__RLS`` off: refuse to run
    (``tenancy.E001``) when the database role is subject to row-level security on
    some tables, whose queries would all see no rows. A database that cannot be
    read yet (down, not migrated) is logged and let through."""
    tenancy = state.extensions.get("tenancy")
    if not isinstance(tenancy, Tenancy) or tenancy.settings.rls or state.db.dialect != "postgresql":
        return
    try:
        tables = await tables_under_policy(state.db)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("tenancy.rls_check_skipped", error=type(exc).__name__, detail=str(exc))
        return
    if not tables:
        return
    named = ", ".join(tables[:_NAMED])
    if len(tables) > _NAMED:
        named += f" and {len(tables) - _NAMED} more"
    message = CheckMessage(
        id="tenancy.E001",
        level="error",
        message=(
            f"The database role is subject to row-level security on {named}, but"
            " BASTION_TENANCY__RLS is off: every query on those tables would see no rows."
        ),
        hint="Set BASTION_TENANCY__RLS=true, or connect as a role with BYPASSRLS.",
    )
    raise_for_errors([message])
