"""An app with authentication on a controlled clock, and helpers to sign in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from bastion import ManualClock, create_app
from bastion.auth import CurrentPrincipal, require_scopes
from bastion.core.mail import RecordingMailer
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"

probe = APIRouter()


@probe.get("/whoami")
async def whoami(principal: CurrentPrincipal) -> dict[str, object]:
    return {"subject": principal.subject, "email": principal.email}


@probe.get("/reports", dependencies=[Depends(require_scopes("reports:read"))])
async def reports() -> dict[str, bool]:
    return {"ok": True}


@dataclass
class AuthClient:
    app: FastAPI
    http: httpx.AsyncClient
    clock: ManualClock
    mailer: RecordingMailer

    async def register(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post("/auth/register", json={"email": email, "password": password})

    async def login(self, email: str, password: str = PASSWORD, **extra: object) -> httpx.Response:
        body = {"email": email, "password": password, **extra}
        return await self.http.post("/auth/login", json=body)

    async def signed_in(self, email: str) -> dict[str, str]:
        """Register ``email`` and sign in; the token pair."""
        assert (await self.register(email)).status_code == 201
        response = await self.login(email)
        assert response.status_code == 200, response.text
        return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


async def build_client(client_for, database_url: str, clock: ManualClock, **auth) -> AuthClient:
    mailer = RecordingMailer()
    settings = make_settings(
        database_url,
        ratelimit={"enabled": False},
        auth=auth,
        # Fast hashing for tests; the production parameters are checked at start-up.
        security={"argon2_time_cost": 1, "argon2_memory_kib": 1024},
    )
    app = create_app(settings, routers=[probe], clock=clock, mailer=mailer)
    return AuthClient(app, await client_for(app), clock, mailer)


@pytest.fixture
async def auth_client(client_for, database_url, clock) -> AuthClient:
    """On SQLite and on PostgreSQL."""
    return await build_client(client_for, database_url, clock)


@pytest.fixture
async def sqlite_auth(client_for, sqlite_url, clock) -> AuthClient:
    return await build_client(client_for, sqlite_url, clock)
