"""The permissions of organizations and the built-in roles.

| permission          | owner | admin | member | viewer |
| ------------------- | ----- | ----- | ------ | ------ |
| org:read            | yes   | yes   | yes    | yes    |
| org:write           | yes   | yes   |        |        |
| members:read        | yes   | yes   | yes    | yes    |
| members:write       | yes   | yes   |        |        |
| invitations:read    | yes   | yes   |        |        |
| invitations:write   | yes   | yes   |        |        |
| teams:read          | yes   | yes   | yes    | yes    |
| teams:write         | yes   | yes   |        |        |
| audit:read          | yes   | yes   |        |        |
| (any app permission)| yes   | by extend_role            |

``owner`` grants ``*``; only an owner can make or unmake another owner.
"""

from __future__ import annotations

from bastion.security.permissions import define_role, register_permission

OWNER, ADMIN, MEMBER, VIEWER = "owner", "admin", "member", "viewer"

for _name, _description in (
    ("org:read", "See the organization"),
    ("org:write", "Rename and configure the organization"),
    ("members:read", "List members and their roles"),
    ("members:write", "Change members' roles and remove members"),
    ("invitations:read", "List pending invitations"),
    ("invitations:write", "Invite, resend and revoke invitations"),
    ("teams:read", "List teams and their members"),
    ("teams:write", "Create teams and change their members"),
    ("audit:read", "Read the organization's audit log"),
):
    register_permission(_name, _description)

_READ = ("org:read", "members:read", "teams:read")
define_role(OWNER, "*")
define_role(
    ADMIN,
    *_READ,
    "org:write",
    "members:write",
    "invitations:read",
    "invitations:write",
    "teams:write",
    "audit:read",
)
define_role(MEMBER, *_READ)
define_role(VIEWER, *_READ)
