"""Verifying incoming webhooks: each signature style, tolerance, rotation, duplicates."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from standardwebhooks.webhooks import Webhook

from bastion import DbSession, create_app
from bastion.webhooks import (
    InboundWebhook,
    InvalidSignature,
    TimestampOutOfTolerance,
    WebhookReceiver,
    new_secret,
    verify_webhook,
)
from tests.conftest import make_settings

pytestmark = [pytest.mark.webhooks]
BODY = json.dumps({"id": "evt_1", "type": "invoice.paid"}).encode()


SECRET = new_secret()
receiver = WebhookReceiver("billing", secrets=[SECRET])
handled: list[str] = []
router = APIRouter()


@router.post("/hooks/billing")
async def billing(
    hook: Annotated[InboundWebhook, Depends(receiver)], session: DbSession
) -> dict[str, bool]:
    async def apply() -> None:
        handled.append(hook.json()["id"])

    return {"processed": await hook.once(session, apply)}


def standard_headers(secret: str, message_id: str = "msg_1", at: float | None = None):
    """Signed by the reference library, not by Bastion."""
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(at if at is not None else time.time(), UTC)
    signature = Webhook(secret).sign(message_id, moment, BODY.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }


def test_standard_signature_and_rotation():
    old, new = new_secret(), new_secret(64)
    headers = standard_headers(old)
    assert verify_webhook(headers, BODY, [new, old]) == "msg_1"
    with pytest.raises(InvalidSignature):
        verify_webhook(headers, BODY, [new])
    with pytest.raises(InvalidSignature):
        verify_webhook(headers, BODY + b" ", [old])
    with pytest.raises(InvalidSignature):
        verify_webhook({**headers, "webhook-signature": "v1,!!!"}, BODY, [old])


def test_standard_timestamp_tolerance():
    secret = new_secret()
    stale = standard_headers(secret, at=time.time() - 301)
    with pytest.raises(TimestampOutOfTolerance):
        verify_webhook(stale, BODY, [secret])
    future = standard_headers(secret, at=time.time() + 301)
    with pytest.raises(TimestampOutOfTolerance):
        verify_webhook(future, BODY, [secret])
    assert verify_webhook(stale, BODY, [secret], tolerance=600) == "msg_1"


def stripe_headers(secret: str, at: int) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + BODY, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={digest},v0=ignored"}


def test_stripe_style():
    secret, now = "whsec_stripe_test_secret", int(time.time())
    assert verify_webhook(stripe_headers(secret, now), BODY, [secret], style="stripe") == "evt_1"
    with pytest.raises(InvalidSignature):
        verify_webhook(stripe_headers("other", now), BODY, [secret], style="stripe")
    with pytest.raises(TimestampOutOfTolerance):
        verify_webhook(stripe_headers(secret, now - 400), BODY, [secret], style="stripe")


def test_github_style():
    secret = "github-hook-secret"
    digest = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": "d-1"}
    assert verify_webhook(headers, BODY, ["rotated", secret], style="github") == "d-1"
    with pytest.raises(InvalidSignature):
        verify_webhook(
            {**headers, "X-Hub-Signature-256": "sha256=00"}, BODY, [secret], style="github"
        )


@pytest.mark.db
async def test_receiver_answers_problems_and_drops_duplicates(client_for, sqlite_url):
    handled.clear()
    client = await client_for(create_app(make_settings(sqlite_url), routers=[router]))
    headers = standard_headers(SECRET, "msg_42")
    first = await client.post("/hooks/billing", content=BODY, headers=headers)
    assert first.json() == {"processed": True}
    again = await client.post("/hooks/billing", content=BODY, headers=headers)
    assert again.status_code == 200 and again.json() == {"processed": False}
    assert handled == ["evt_1"]

    forged = await client.post(
        "/hooks/billing", content=BODY, headers=standard_headers(new_secret(), "msg_43")
    )
    assert forged.status_code == 401
    assert forged.json()["code"] == "webhook.invalid_signature"
    stale = await client.post(
        "/hooks/billing",
        content=BODY,
        headers=standard_headers(SECRET, "msg_44", at=time.time() - 3600),
    )
    assert stale.status_code == 401
    assert stale.json()["code"] == "webhook.timestamp_out_of_tolerance"
    assert handled == ["evt_1"]
