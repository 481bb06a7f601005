"""Problem codes of organizations.

OrgError
├── OrgRequired                 400 org.required: no org_id in the path nor tenant header
├── OrgNotFound                 404 org.not_found: unknown, or the caller is not a member
├── MemberNotFound              404 org.member_not_found
├── TeamNotFound                404 org.team_not_found
├── LastOwner                   409 org.last_owner: the last owner stays an owner
├── RoleUnknown                 422 org.role_unknown
├── InvitationNotFound          404 org.invitation_not_found: unknown, used or revoked
├── InvitationExpired           410 org.invitation_expired
└── InvitationEmailMismatch     403 org.invitation_email_mismatch
"""

from __future__ import annotations

from bastion.core.errors import BastionError


class OrgError(BastionError):
    """Root of the organizations feature's errors."""


class OrgRequired(OrgError):
    code = "org.required"
    status = 400
    title = "Organization required"


class OrgNotFound(OrgError):
    code = "org.not_found"
    status = 404
    title = "Organization not found"


class MemberNotFound(OrgError):
    code = "org.member_not_found"
    status = 404
    title = "Member not found"


class TeamNotFound(OrgError):
    code = "org.team_not_found"
    status = 404
    title = "Team not found"


class LastOwner(OrgError):
    code = "org.last_owner"
    status = 409
    title = "The last owner cannot be removed or demoted"


class RoleUnknown(OrgError):
    code = "org.role_unknown"
    status = 422
    title = "Unknown role"


class InvitationNotFound(OrgError):
    code = "org.invitation_not_found"
    status = 404
    title = "Invitation not found"


class InvitationExpired(OrgError):
    code = "org.invitation_expired"
    status = 410
    title = "Invitation expired"


class InvitationEmailMismatch(OrgError):
    code = "org.invitation_email_mismatch"
    status = 403
    title = "Invitation is for another email address"
