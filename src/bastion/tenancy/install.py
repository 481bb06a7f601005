"""Turn tenancy on for an app: ORM filtering, RLS settings, quotas, resolution."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from bastion.core.errors import ConfigurationError
from bastion.core.state import BastionState, bastion_state
from bastion.tenancy.quotas import Quotas
from bastion.tenancy.resolve import requested_tenant
from bastion.tenancy.rls import follow_tenant_in_transactions
from bastion.tenancy.scoping import scope_database
from bastion.tenancy.settings import TenancySettings


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
