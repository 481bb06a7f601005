"""Organizations: members with roles, teams, invitations, and the checks that
use the caller's role in the current organization. See ``docs/orgs.md`` and
``docs/authorization.md``."""

from bastion.orgs.deps import (
    CurrentOrg,
    OrgAccess,
    current_org,
    require_abac,
    require_any_permission,
    require_permissions,
    require_roles,
)
from bastion.orgs.errors import OrgError
from bastion.orgs.install import OrgsFeature, orgs_of
from bastion.orgs.models import Invitation, Membership, Organization, Team, TeamMember
from bastion.orgs.roles import ADMIN, MEMBER, OWNER, VIEWER
from bastion.orgs.settings import AuditSettings, OrgsSettings

__all__ = [
    "ADMIN",
    "MEMBER",
    "OWNER",
    "VIEWER",
    "AuditSettings",
    "CurrentOrg",
    "Invitation",
    "Membership",
    "OrgAccess",
    "OrgError",
    "Organization",
    "OrgsFeature",
    "OrgsSettings",
    "Team",
    "TeamMember",
    "current_org",
    "orgs_of",
    "require_abac",
    "require_any_permission",
    "require_permissions",
    "require_roles",
]
