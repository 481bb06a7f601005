"""What the organizations feature shares, built once by ``install_orgs``."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.core.clock import Clock
from bastion.core.mail import Mailer
from bastion.orgs.errors import RoleUnknown
from bastion.orgs.settings import OrgsSettings
from bastion.security.audit import AuditLog
from bastion.security.permissions import registered_roles


@dataclass
class OrgsContext:
    settings: OrgsSettings
    app_name: str
    clock: Clock
    audit: AuditLog
    mailer: Mailer


def known_role(role: str) -> str:
    """``role`` if it is defined; :class:`RoleUnknown` otherwise."""
    if role not in registered_roles():
        raise RoleUnknown(
            f"No role {role!r}; the roles are {', '.join(sorted(registered_roles()))}."
        )
    return role
