"""Managing endpoints is audit-logged in the organization's chain."""

from __future__ import annotations

import pytest

from tests.integration.webhooks.test_delivery import add_endpoint

pytestmark = [pytest.mark.webhooks, pytest.mark.db]


async def test_management_actions_are_audited(webhook_app, receiver):
    client, org = await webhook_app()
    endpoint_id, _ = await add_endpoint(client, receiver.url)  # created, then secret read
    await client.post(f"/webhooks/endpoints/{endpoint_id}/secret/rotate")
    await client.patch(f"/webhooks/endpoints/{endpoint_id}", json={"description": "new"})
    await client.delete(f"/webhooks/endpoints/{endpoint_id}")

    events = (await client.get(f"/orgs/{org}/audit-events", params={"limit": 200})).json()
    webhook_events = [e for e in events["items"] if e["action"].startswith("webhooks.")]
    assert [e["action"] for e in webhook_events] == [
        "webhooks.endpoint_created",
        "webhooks.secret_read",
        "webhooks.secret_rotated",
        "webhooks.endpoint_updated",
        "webhooks.endpoint_deleted",
    ]
    assert {e["target"] for e in webhook_events} == {f"webhook_endpoint:{endpoint_id}"}
