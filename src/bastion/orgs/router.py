"""``/orgs/*`` and ``/invitations/accept``: thin handlers over :class:`OrgsFeature`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select

from bastion.auth import CurrentPrincipal, auth_of
from bastion.auth.browser import BrowserSessionOut, pair_answer
from bastion.auth.errors import SessionRevoked
from bastion.auth.schemas import TokenPairOut
from bastion.core.db import DbSession
from bastion.core.pagination import Page, PageParams, paginate
from bastion.core.problems import problem_responses
from bastion.orgs import errors
from bastion.orgs.deps import CurrentOrg, require_permissions
from bastion.orgs.install import OrgsFeature, orgs_of
from bastion.orgs.models import Membership
from bastion.orgs.schemas import (
    AcceptIn,
    AuditEventOut,
    InvitationIn,
    InvitationOut,
    MemberOut,
    OrgIn,
    OrgOut,
    RoleIn,
    SwitchOrgIn,
    TeamIn,
    TeamMemberIn,
    TeamMemberOut,
    TeamOut,
)
from bastion.ratelimit import auth_rate_limit
from bastion.security.audit import AuditEvent
from bastion.security.errors import Forbidden

router = APIRouter(prefix="/orgs", tags=["orgs"])
invitations_router = APIRouter(prefix="/invitations", tags=["orgs"])
switch_router = APIRouter(prefix="/auth", tags=["auth"])
_ORG = problem_responses(errors.OrgNotFound, Forbidden)


def _feature(request: Request) -> OrgsFeature:
    return orgs_of(request.app)


Feature = Annotated[OrgsFeature, Depends(_feature)]


def _can(permission: str) -> Any:
    return Depends(require_permissions(permission))


def _org_out(org: Any, role: str) -> OrgOut:
    return OrgOut(id=org.id, name=org.name, role=role, created_at=org.created_at)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_org(
    body: OrgIn, session: DbSession, principal: CurrentPrincipal, feature: Feature
) -> OrgOut:
    org = await feature.orgs.create(session, principal, body.name)
    return _org_out(org, "owner")


@router.get("")
async def my_orgs(
    session: DbSession, principal: CurrentPrincipal, feature: Feature
) -> list[OrgOut]:
    return [_org_out(org, role) for org, role in await feature.orgs.mine(session, principal.id)]


@router.get("/{org_id}", responses=_ORG)
async def get_org(
    org_id: uuid.UUID, session: DbSession, org: Annotated[Any, _can("org:read")], feature: Feature
) -> OrgOut:
    return _org_out(await feature.orgs.get(session, org_id), org.role)


@router.patch("/{org_id}", responses=_ORG)
async def update_org(
    org_id: uuid.UUID,
    body: OrgIn,
    session: DbSession,
    org: Annotated[Any, _can("org:write")],
    feature: Feature,
) -> OrgOut:
    return _org_out(await feature.orgs.rename(session, org_id, body.name), org.role)


@router.get("/{org_id}/members", responses=_ORG, dependencies=[_can("members:read")])
async def list_members(org_id: uuid.UUID, session: DbSession, feature: Feature) -> list[MemberOut]:
    rows = await feature.orgs.members(session, org_id)
    return [
        MemberOut(user_id=m.user_id, email=e, role=m.role, joined_at=m.created_at) for m, e in rows
    ]


@router.patch(
    "/{org_id}/members/{user_id}",
    responses=problem_responses(
        errors.MemberNotFound, errors.LastOwner, errors.RoleUnknown, Forbidden
    ),
)
async def change_role(
    user_id: uuid.UUID,
    body: RoleIn,
    session: DbSession,
    org: Annotated[Any, _can("members:write")],
    feature: Feature,
) -> dict[str, str]:
    was = await feature.orgs.change_role(session, org, user_id, body.role)
    return {"user_id": str(user_id), "role": body.role, "was": was}


@router.delete(
    "/{org_id}/members/{user_id}",
    status_code=204,
    responses=problem_responses(errors.MemberNotFound, errors.LastOwner, Forbidden),
)
async def remove_member(
    user_id: uuid.UUID, session: DbSession, org: CurrentOrg, feature: Feature
) -> Response:
    if user_id != org.principal.id:  # leaving needs no permission; removing others does
        await require_permissions("members:write")(org)
    await feature.orgs.remove(session, org, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{org_id}/teams", status_code=201, responses=_ORG, dependencies=[_can("teams:write")])
async def create_team(
    org_id: uuid.UUID, body: TeamIn, session: DbSession, feature: Feature
) -> TeamOut:
    return TeamOut.model_validate(await feature.teams.create(session, org_id, body.name))


@router.get("/{org_id}/teams", responses=_ORG, dependencies=[_can("teams:read")])
async def list_teams(org_id: uuid.UUID, session: DbSession, feature: Feature) -> list[TeamOut]:
    return [TeamOut.model_validate(t) for t in await feature.teams.all(session, org_id)]


@router.delete(
    "/{org_id}/teams/{team_id}", status_code=204, responses=_ORG, dependencies=[_can("teams:write")]
)
async def delete_team(
    org_id: uuid.UUID, team_id: uuid.UUID, session: DbSession, feature: Feature
) -> Response:
    await feature.teams.delete(session, org_id, team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{org_id}/teams/{team_id}/members", dependencies=[_can("teams:read")])
async def team_members(
    org_id: uuid.UUID, team_id: uuid.UUID, session: DbSession, feature: Feature
) -> list[TeamMemberOut]:
    team = await feature.teams.get(session, org_id, team_id)
    return [
        TeamMemberOut(user_id=u, email=e) for u, e in await feature.teams.members(session, team)
    ]


@router.post(
    "/{org_id}/teams/{team_id}/members", status_code=204, dependencies=[_can("teams:write")]
)
async def add_team_member(
    org_id: uuid.UUID, team_id: uuid.UUID, body: TeamMemberIn, session: DbSession, feature: Feature
) -> Response:
    await feature.teams.add(
        session, await feature.teams.get(session, org_id, team_id), body.user_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{org_id}/teams/{team_id}/members/{user_id}",
    status_code=204,
    dependencies=[_can("teams:write")],
)
async def remove_team_member(
    org_id: uuid.UUID, team_id: uuid.UUID, user_id: uuid.UUID, session: DbSession, feature: Feature
) -> Response:
    team = await feature.teams.get(session, org_id, team_id)
    await feature.teams.remove(session, team, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{org_id}/invitations",
    status_code=201,
    responses=problem_responses(errors.RoleUnknown, Forbidden),
)
async def invite(
    body: InvitationIn,
    session: DbSession,
    org: Annotated[Any, _can("invitations:write")],
    feature: Feature,
) -> InvitationOut:
    invitation = await feature.invitations.invite(session, org, body.email, body.role)
    return InvitationOut.model_validate(invitation)


@router.get("/{org_id}/invitations", dependencies=[_can("invitations:read")])
async def list_invitations(
    org_id: uuid.UUID, session: DbSession, feature: Feature
) -> list[InvitationOut]:
    return [
        InvitationOut.model_validate(i) for i in await feature.invitations.pending(session, org_id)
    ]


@router.post(
    "/{org_id}/invitations/{invitation_id}/resend",
    dependencies=[Depends(auth_rate_limit("invitation_resend")), _can("invitations:write")],
    responses=problem_responses(errors.InvitationNotFound),
)
async def resend_invitation(
    org_id: uuid.UUID, invitation_id: uuid.UUID, session: DbSession, feature: Feature
) -> InvitationOut:
    invitation = await feature.invitations.resend(session, org_id, invitation_id)
    return InvitationOut.model_validate(invitation)


@router.delete(
    "/{org_id}/invitations/{invitation_id}",
    status_code=204,
    dependencies=[_can("invitations:write")],
    responses=problem_responses(errors.InvitationNotFound),
)
async def revoke_invitation(
    org_id: uuid.UUID, invitation_id: uuid.UUID, session: DbSession, feature: Feature
) -> Response:
    await feature.invitations.revoke(session, org_id, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{org_id}/audit-events", responses=_ORG, dependencies=[_can("audit:read")])
async def audit_events(
    org_id: uuid.UUID,
    session: DbSession,
    feature: Feature,
    params: Annotated[PageParams, Query()],
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> Page[AuditEventOut]:
    query = feature.ctx.audit.events(org_id, actor=actor, action=action, since=since, until=until)
    rows, cursor = await paginate(
        session, query, AuditEvent.id, cursor=params.cursor, limit=params.limit
    )
    return Page(items=[AuditEventOut.model_validate(r) for r in rows], next_cursor=cursor)


@invitations_router.post(
    "/accept",
    responses=problem_responses(
        errors.InvitationNotFound, errors.InvitationExpired, errors.InvitationEmailMismatch
    ),
)
async def accept_invitation(
    body: AcceptIn, session: DbSession, principal: CurrentPrincipal, feature: Feature
) -> OrgOut:
    invitation = await feature.invitations.accept(session, principal, body.token)
    org = await feature.orgs.get(session, invitation.org_id)
    return _org_out(org, invitation.role)


@switch_router.post(
    "/switch-org",
    responses=problem_responses(errors.OrgNotFound, Forbidden, SessionRevoked),
)
async def switch_org(
    body: SwitchOrgIn,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> TokenPairOut | BrowserSessionOut:
    """New tokens whose ``org`` claim makes ``org_id`` the caller's active
    organization (one of theirs); the current refresh token is spent."""
    if principal.session_id is None:
        raise Forbidden("An API key has no session; name the organization in X-Tenant-ID.")
    member = await session.scalar(
        select(Membership.role).where(
            Membership.org_id == body.org_id, Membership.user_id == principal.id
        )
    )
    if member is None:
        raise errors.OrgNotFound("No such organization.")
    auth = auth_of(request.app)
    pair = await auth.sessions.switch_org(session, principal.session_id, body.org_id)
    return pair_answer(auth.browser, pair, response)
