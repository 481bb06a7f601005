"""The audit log: append-only, one hash chain per organization and one for the
system. See ``docs/audit.md``."""

from __future__ import annotations

from typing import Any

from bastion.core.state import bastion_state
from bastion.security.audit.chain import GENESIS, SYSTEM_CHAIN, ChainBreak, chain_of, event_hash
from bastion.security.audit.log import AuditLog, AuditRecord, AuditSink, LogSink
from bastion.security.audit.models import AuditChainHead, AuditEvent

__all__ = [
    "GENESIS",
    "SYSTEM_CHAIN",
    "AuditChainHead",
    "AuditEvent",
    "AuditLog",
    "AuditRecord",
    "AuditSink",
    "ChainBreak",
    "LogSink",
    "audit_log",
    "chain_of",
    "event_hash",
]


def audit_log(app_or_state: Any) -> AuditLog:
    """The :class:`AuditLog` of an app built by ``create_app`` (or of its state)."""
    state = app_or_state if hasattr(app_or_state, "extensions") else bastion_state(app_or_state)
    found = state.extensions.get("audit")
    if not isinstance(found, AuditLog):
        raise TypeError("this app has no audit log; was it built by create_app?")
    return found
