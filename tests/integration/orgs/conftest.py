"""An app with organizations on a controlled clock, and helpers to set up members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from bastion import ManualClock, create_app
from bastion.core.mail import RecordingMailer
from bastion.orgs import CurrentOrg, require_any_permission, require_permissions, require_roles
from bastion.security.permissions import register_permission
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"

register_permission("probe_report:read", "Read probe reports (tests)")
register_permission("probe_report:write", "Write probe reports (tests)")
probe = APIRouter(prefix="/probe")


@probe.get("/read", dependencies=[Depends(require_permissions("probe_report:read"))])
async def read(org: CurrentOrg) -> dict[str, str]:
    return {"org": str(org.org_id), "role": org.role}


@probe.get(
    "/any", dependencies=[Depends(require_any_permission("probe_report:write", "audit:read"))]
)
async def any_of() -> dict[str, bool]:
    return {"ok": True}


@probe.get("/owners", dependencies=[Depends(require_roles("owner"))])
async def owners() -> dict[str, bool]:
    return {"ok": True}


@dataclass
class Orgs:
    app: FastAPI
    http: httpx.AsyncClient
    clock: ManualClock
    mailer: RecordingMailer

    async def user(self, email: str) -> dict[str, str]:
        """Register ``email``, sign in; its Authorization header."""
        body = {"email": email, "password": PASSWORD}
        assert (await self.http.post("/auth/register", json=body)).status_code == 201
        return await self.login(email)

    async def login(self, email: str) -> dict[str, str]:
        """Sign in again (after the clock moved past the access token's life)."""
        body = {"email": email, "password": PASSWORD}
        response = await self.http.post("/auth/login", json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def org(self, owner: dict[str, str], name: str = "Acme") -> str:
        response = await self.http.post("/orgs", json={"name": name}, headers=owner)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def invite(self, org: str, by: dict[str, str], email: str, role: str) -> str:
        """Invite ``email``; the token from the email."""
        body = {"email": email, "role": role}
        response = await self.http.post(f"/orgs/{org}/invitations", json=body, headers=by)
        assert response.status_code == 201, response.text
        return self.mailer.last(to=email.lower(), kind="orgs.invitation").data["token"]

    async def accept(self, token: str, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post("/invitations/accept", json={"token": token}, headers=headers)

    async def member(
        self, org: str, owner: dict[str, str], email: str, role: str
    ) -> dict[str, str]:
        """A new user who joined ``org`` as ``role``; their Authorization header."""
        headers = await self.user(email)
        token = await self.invite(org, owner, email, role)
        assert (await self.accept(token, headers)).status_code == 200
        return headers

    async def user_id(self, headers: dict[str, str]) -> str:
        return str((await self.http.get("/auth/me", headers=headers)).json()["id"])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


async def build_orgs(client_for, database_url: str, clock: ManualClock, **settings) -> Orgs:
    mailer = RecordingMailer()
    values = {
        "ratelimit": {"enabled": False},
        "security": {"argon2_time_cost": 1, "argon2_memory_kib": 1024},
        **settings,
    }
    app = create_app(
        make_settings(database_url, **values), routers=[probe], clock=clock, mailer=mailer
    )
    return Orgs(app, await client_for(app), clock, mailer)


@pytest.fixture
async def orgs(client_for, database_url, clock) -> Orgs:
    """On SQLite and on PostgreSQL."""
    return await build_orgs(client_for, database_url, clock)


@pytest.fixture
async def sqlite_orgs(client_for, sqlite_url, clock) -> Orgs:
    return await build_orgs(client_for, sqlite_url, clock)
