"""Sign in to the taskboard as the owner of a new organization (its routes need one)."""

from __future__ import annotations

import httpx

PASSWORD = "correct horse battery staple"


async def org_owner(
    client: httpx.AsyncClient, email: str = "owner@example.com", org: str = "Acme"
) -> dict[str, str]:
    """Headers of a new user who owns a new organization, named in ``X-Tenant-ID``."""
    body = {"email": email, "password": PASSWORD}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    login = await client.post("/auth/login", json=body)
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    created = await client.post("/orgs", json={"name": org}, headers=auth)
    assert created.status_code == 201, created.text
    return {**auth, "X-Tenant-ID": created.json()["id"]}


async def sign_in_to_new_org(
    client: httpx.AsyncClient, email: str = "owner@example.com", org: str = "Acme"
) -> str:
    """:func:`org_owner`, kept as the client's default headers; the org id."""
    headers = await org_owner(client, email, org)
    client.headers.update(headers)
    return headers["X-Tenant-ID"]


def org_owner_sync(client: httpx.Client, email: str = "owner@example.com") -> dict[str, str]:
    """:func:`org_owner` over a blocking client (end-to-end tests)."""
    body = {"email": email, "password": PASSWORD}
    assert client.post("/auth/register", json=body).status_code == 201
    login = client.post("/auth/login", json=body)
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    org = client.post("/orgs", json={"name": "Acme"}, headers=auth)
    assert org.status_code == 201, org.text
    return {**auth, "X-Tenant-ID": org.json()["id"]}
