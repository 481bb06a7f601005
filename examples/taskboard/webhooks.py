"""The taskboard's webhook event types: what an organization's endpoints receive.

Each payload is the resource as the API returns it. Organizations manage their
endpoints under ``/webhooks`` (permission ``webhooks:manage``: owners and admins).
"""

from __future__ import annotations

from bastion.webhooks import WebhookRegistry
from examples.taskboard.schemas import ProjectOut, TaskOut

webhooks = WebhookRegistry()
webhooks.event_type(
    "project.created", version=1, model=ProjectOut, description="A project was created."
)
webhooks.event_type("task.created", version=1, model=TaskOut, description="A task was created.")
webhooks.event_type(
    "task.updated", version=1, model=TaskOut, description="A task's title or state changed."
)
