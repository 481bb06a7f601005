"""Asymmetric ``v1a`` (Ed25519) signatures: keys, verification, and real deliveries.

The ``standardwebhooks`` Python library checks only ``v1``; ``v1a`` signatures are
checked here with ``cryptography``'s Ed25519 directly, and with ``verify_webhook``.
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.exceptions import InvalidSignature as BadEd25519Signature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook

from bastion.webhooks import InvalidSignature, WebhookReceiver, new_secret, verify_webhook
from bastion.webhooks.signing import (
    MAX_SIGNATURES,
    new_signing_key,
    public_key,
    signed_headers,
)

pytestmark = [pytest.mark.webhooks]
BODY = b'{"id":"evt_1","type":"invoice.paid"}'


def ed25519_verify(public: str, headers: dict[str, str], body: bytes) -> int:
    """How many ``v1a`` signatures of ``headers`` verify with ``public`` (a whpk_ key),
    checked with cryptography alone: the receiver's side, without Bastion."""
    assert public.startswith("whpk_")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public.removeprefix("whpk_")))
    h = {name.lower(): value for name, value in headers.items()}
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    valid = 0
    for part in h["webhook-signature"].split(" "):
        version, _, value = part.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(value), signed)
        except BadEd25519Signature:
            continue
        valid += 1
    return valid


def test_key_formats():
    key = new_signing_key()
    assert key.startswith("whsk_")
    assert len(base64.b64decode(key.removeprefix("whsk_"))) == 32
    public = public_key(key)
    assert public.startswith("whpk_")
    assert len(base64.b64decode(public.removeprefix("whpk_"))) == 32
    assert public_key(key) == public  # derived, not random
    assert public_key(new_signing_key()) != public


def test_v1a_signature_verifies_with_the_public_key_only():
    key, now = new_signing_key(), int(time.time())
    headers = signed_headers("msg_1", now, BODY, [key])
    assert headers["webhook-signature"].startswith("v1a,")
    assert ed25519_verify(public_key(key), headers, BODY) == 1
    assert verify_webhook(headers, BODY, [public_key(key)]) == "msg_1"

    with pytest.raises(InvalidSignature):
        verify_webhook(headers, BODY + b" ", [public_key(key)])
    with pytest.raises(InvalidSignature):
        verify_webhook(headers, BODY, [public_key(new_signing_key())])
    with pytest.raises(InvalidSignature):  # a v1a signature is no HMAC of any secret
        verify_webhook(headers, BODY, [new_secret()])
    relabelled = {**headers, "webhook-signature": "v1" + headers["webhook-signature"][3:]}
    with pytest.raises(InvalidSignature):
        verify_webhook(relabelled, BODY, [public_key(key)])


def test_mixed_header_verifies_with_either_kind_of_key():
    secret, key, now = new_secret(), new_signing_key(), int(time.time())
    headers = signed_headers("msg_2", now, BODY, [secret, key])
    v1, v1a = headers["webhook-signature"].split(" ")
    assert v1.startswith("v1,") and v1a.startswith("v1a,")
    assert Webhook(secret).verify(BODY, headers)["id"] == "evt_1"  # skips v1a
    assert ed25519_verify(public_key(key), headers, BODY) == 1
    assert verify_webhook(headers, BODY, [public_key(key)]) == "msg_2"
    assert verify_webhook(headers, BODY, [secret]) == "msg_2"


def test_only_the_first_signatures_of_a_header_are_tried():
    key, now = new_signing_key(), int(time.time())
    good = signed_headers("msg_3", now, BODY, [key])
    junk = " ".join(["v1a," + base64.b64encode(bytes(64)).decode()] * (MAX_SIGNATURES - 1))
    near = {**good, "webhook-signature": f"{junk} {good['webhook-signature']}"}
    assert verify_webhook(near, BODY, [public_key(key)]) == "msg_3"
    far = {**good, "webhook-signature": f"v1a,AAAA {near['webhook-signature']}"}
    with pytest.raises(InvalidSignature):
        verify_webhook(far, BODY, [public_key(key)])


def test_receiver_refuses_malformed_keys_when_built():
    for bad in ("whpk_not base64", "whpk_" + base64.b64encode(bytes(16)).decode(), "whsk_@@"):
        with pytest.raises(ValueError, match=r"whpk_|whsk_"):
            WebhookReceiver("billing", secrets=[bad])
    assert WebhookReceiver("billing", secrets=[public_key(new_signing_key())]).secrets


# -- over the management API and a real delivery -----------------------------------------


async def add_v1a_endpoint(client, url: str) -> tuple[str, str]:
    created = await client.post(
        "/webhooks/endpoints",
        json={"url": url, "event_types": ["task.created"], "signature": "v1a"},
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    answer = await client.get(f"/webhooks/endpoints/{endpoint_id}/secret")
    assert answer.status_code == 200, answer.text
    assert answer.json()["signature"] == "v1a"
    return endpoint_id, answer.json()["secret"]


@pytest.mark.db
async def test_v1a_endpoint_delivers_verifiable_requests(webhook_app, receiver):
    client, _ = await webhook_app()
    endpoint_id, public = await add_v1a_endpoint(client, receiver.url)
    assert public.startswith("whpk_")

    outcome = await client.post(f"/webhooks/endpoints/{endpoint_id}/test")
    assert outcome.status_code == 200, outcome.text
    assert outcome.json()["succeeded"] is True
    headers, body = receiver.requests[0]
    assert headers["webhook-signature"].startswith("v1a,")
    assert ed25519_verify(public, headers, body) == 1
    assert verify_webhook(headers, body, [public]) == headers["webhook-id"]


@pytest.mark.db
async def test_v1a_rotation_signs_with_both_key_pairs(webhook_app, receiver):
    client, _ = await webhook_app()
    endpoint_id, old = await add_v1a_endpoint(client, receiver.url)
    rotated = await client.post(f"/webhooks/endpoints/{endpoint_id}/secret/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert rotated.json()["signature"] == "v1a"
    assert new.startswith("whpk_") and new != old
    assert (await client.get(f"/webhooks/endpoints/{endpoint_id}/secret")).json()["secret"] == new

    assert (await client.post(f"/webhooks/endpoints/{endpoint_id}/test")).json()["succeeded"]
    headers, body = receiver.requests[0]
    assert [s[:4] for s in headers["webhook-signature"].split(" ")] == ["v1a,", "v1a,"]
    assert ed25519_verify(old, headers, body) == 1
    assert ed25519_verify(new, headers, body) == 1
    assert verify_webhook(headers, body, [old]) == verify_webhook(headers, body, [new])


@pytest.mark.db
async def test_the_private_key_never_leaves(webhook_app, receiver):
    client, _ = await webhook_app()
    endpoint_id, _ = await add_v1a_endpoint(client, receiver.url)
    await client.post(f"/webhooks/endpoints/{endpoint_id}/secret/rotate")
    answers = [
        await client.get(f"/webhooks/endpoints/{endpoint_id}"),
        await client.get("/webhooks/endpoints"),
        await client.get(f"/webhooks/endpoints/{endpoint_id}/secret"),
        await client.post(f"/webhooks/endpoints/{endpoint_id}/secret/rotate"),
    ]
    assert all(a.status_code == 200 for a in answers)
    assert not any("whsk_" in a.text for a in answers)


@pytest.mark.db
async def test_v1_stays_the_default_and_unknown_schemes_are_refused(webhook_app, receiver):
    client, _ = await webhook_app()
    created = await client.post(
        "/webhooks/endpoints", json={"url": receiver.url, "event_types": ["task.created"]}
    )
    secret = (await client.get(f"/webhooks/endpoints/{created.json()['id']}/secret")).json()
    assert secret["signature"] == "v1" and secret["secret"].startswith("whsec_")
    refused = await client.post(
        "/webhooks/endpoints",
        json={"url": receiver.url, "event_types": ["task.created"], "signature": "v2"},
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
