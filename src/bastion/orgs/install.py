"""Build organizations and the audit log from settings; mount their routes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bastion.core.errors import ConfigurationError
from bastion.core.state import BastionState, bastion_state
from bastion.orgs.context import OrgsContext
from bastion.orgs.invitations import Invitations
from bastion.orgs.service import Orgs
from bastion.orgs.settings import AuditSettings, OrgsSettings
from bastion.orgs.teams import Teams
from bastion.security.audit import AuditLog, AuditSink, LogSink


class OrgsFeature:
    """Organizations, teams and invitations of one app."""

    def __init__(self, ctx: OrgsContext) -> None:
        self.ctx = ctx
        self.orgs = Orgs(ctx)
        self.teams = Teams(ctx)
        self.invitations = Invitations(ctx)


def build_audit(settings: AuditSettings, state: BastionState) -> AuditLog:
    """The app's audit log: the table, and the log sink when asked for."""
    sinks: list[AuditSink] = [LogSink()] if settings.log_sink else []
    return AuditLog(state.db, state.clock, sinks)


def install_orgs(app: FastAPI, settings: OrgsSettings, state: BastionState) -> OrgsFeature:
    """Build :class:`OrgsFeature` into ``state.extensions["orgs"]`` and mount its routes."""
    from bastion.orgs.router import invitations_router, router, switch_router

    audit = state.extensions["audit"]
    ctx = OrgsContext(settings, state.settings.app_name, state.clock, audit, state.mailer)
    feature = state.extensions["orgs"] = OrgsFeature(ctx)
    app.include_router(router)
    app.include_router(invitations_router)
    app.include_router(switch_router)
    return feature


def orgs_of(app: Any) -> OrgsFeature:
    """The app's :class:`OrgsFeature` (built by ``create_app`` when orgs are enabled)."""
    found = bastion_state(app).extensions.get("orgs")
    if not isinstance(found, OrgsFeature):
        raise ConfigurationError("organizations are not enabled: set BASTION_ORGS__ENABLED=true")
    return found
