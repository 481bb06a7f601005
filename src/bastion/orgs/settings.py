"""``BASTION_ORGS__*`` and ``BASTION_AUDIT__*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OrgsSettings(BaseModel):
    """Organizations, their members, teams and invitations."""

    enabled: bool = Field(True, description="Mount the /orgs and /invitations routes.")
    invitation_ttl_seconds: int = Field(
        7 * 86400, gt=0, description="Lifetime of an invitation's link."
    )
    accept_url: str = Field(
        "/invitations/accept?token={token}",
        description="Link put in invitation emails; {token} is replaced by the token.",
    )


class AuditSettings(BaseModel):
    """The audit log (always written to its table)."""

    log_sink: bool = Field(
        False, description="Also write every audit event as a structured log line."
    )
