"""The management API's rules: the ``webhooks:manage`` permission, https in
production; and how a receiver's ``Retry-After`` date is read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bastion import bastion_state, create_app
from bastion.webhooks.attempt import retry_after
from tests.conftest import make_settings
from tests.integration.webhooks.conftest import registry
from tests.integration.webhooks.test_delivery import add_endpoint
from tests.signin import PASSWORD, sign_in_to_new_org

pytestmark = [pytest.mark.webhooks]


async def join(client, org: str, email: str, role: str) -> dict[str, str]:
    """Headers of a new user who accepted an invitation to ``org`` as ``role``."""
    body = {"email": email, "password": PASSWORD}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    login = await client.post("/auth/login", json=body)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}", "X-Tenant-ID": org}
    invited = await client.post(
        f"/orgs/{org}/invitations", json={"email": email, "role": role}
    )  # by the owner, signed in on the client
    assert invited.status_code == 201, invited.text
    mail = bastion_state(client.app_under_test).mailer.last(to=email, kind="orgs.invitation")
    accepted = await client.post(
        "/invitations/accept", json={"token": mail.data["token"]}, headers=headers
    )
    assert accepted.status_code == 200, accepted.text
    return headers


@pytest.mark.db
async def test_managing_endpoints_needs_the_permission(webhook_app, receiver):
    client, org = await webhook_app()
    endpoint_id, _ = await add_endpoint(client, receiver.url)
    member = await join(client, str(org), "mem@example.com", "member")
    admin = await join(client, str(org), "adm@example.com", "admin")

    for method, path in [
        ("GET", "/webhooks/endpoints"),
        ("POST", "/webhooks/endpoints"),
        ("GET", f"/webhooks/endpoints/{endpoint_id}"),
        ("GET", f"/webhooks/endpoints/{endpoint_id}/secret"),
        ("POST", f"/webhooks/endpoints/{endpoint_id}/secret/rotate"),
        ("POST", f"/webhooks/endpoints/{endpoint_id}/test"),
        ("DELETE", f"/webhooks/endpoints/{endpoint_id}"),
    ]:
        body = {"url": receiver.url, "event_types": ["task.created"]}
        answer = await client.request(
            method, path, headers=member, json=body if method == "POST" else None
        )
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["permission"] == "webhooks:manage"
    assert receiver.requests == []  # the refused test event was not sent
    assert (await client.get("/webhooks/event-types", headers=member)).status_code == 200

    listed = await client.get("/webhooks/endpoints", headers=admin)
    assert [e["id"] for e in listed.json()["items"]] == [endpoint_id]


async def test_production_needs_https_endpoints(client_for, sqlite_url):
    settings = make_settings(
        sqlite_url,
        env="production",
        allow_sqlite_in_production=True,
        docs_enabled=False,
        security={"argon2_time_cost": 2, "argon2_memory_kib": 19456, "hibp_enabled": False},
    )
    client = await client_for(create_app(settings, webhooks=registry()))
    await sign_in_to_new_org(client)
    body = {"url": "http://hooks.customer.example/in", "event_types": ["task.created"]}
    refused = await client.post("/webhooks/endpoints", json=body)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "webhook.target_refused"
    assert refused.json()["detail"] == "A webhook URL must be an absolute https URL."

    created = await client.post(
        "/webhooks/endpoints", json={**body, "url": "https://hooks.customer.example/in"}
    )
    assert created.status_code == 201, created.text
    moved = await client.patch(
        f"/webhooks/endpoints/{created.json()['id']}", json={"url": body["url"]}
    )
    assert moved.status_code == 422
    assert moved.json()["code"] == "webhook.target_refused"


def test_retry_after_as_seconds_or_an_http_date():
    now = datetime(2026, 11, 25, 17, 0, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after("Wed, 25 Nov 2026 17:02:30 GMT", now) == 150.0
    assert retry_after("Wed, 25 Nov 2026 16:00:00 GMT", now) == 0.0  # past: now
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None
