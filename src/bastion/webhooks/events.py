"""Event types and publishing: :class:`WebhookRegistry`.

Each event type has a pydantic model per version. An endpoint pins one version;
a publish computes the payload of every version the type has (older versions
through their ``derive`` function) and validates each against its model, so a
bad payload fails in the producer, inside its transaction.

>>> from pydantic import BaseModel
>>> class TaskCreatedV1(BaseModel):
...     id: str
...     title: str
>>> webhooks = WebhookRegistry()
>>> webhooks.event_type("task.created", version=1, model=TaskCreatedV1, description="A new task")
>>> webhooks.schemas()[0]["versions"][0]["version"]
1
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.core.db import utcnow
from bastion.core.errors import ConfigurationError
from bastion.core.ids import uuid7
from bastion.outbox.producer import add
from bastion.webhooks.errors import InvalidEventPayload, UnknownEventType

TOPIC = "bastion.webhooks.event"
TEST_EVENT = "webhook.test"
Derive = Callable[[dict[str, Any]], dict[str, Any]]
OnDisabled = Callable[[Any, str], Awaitable[None]]


class WebhookTestV1(BaseModel):
    """The payload of ``webhook.test``, sent by ``POST /webhooks/endpoints/{id}/test``."""

    message: str = "This is a test event."


@dataclass(frozen=True)
class EventVersion:
    name: str
    version: int
    model: type[BaseModel]
    description: str
    derive: Derive | None


class WebhookRegistry:
    """The event types an app sends; give it to ``create_app(webhooks=...)``."""

    def __init__(self, *, on_disabled: OnDisabled | None = None) -> None:
        self.types: dict[str, dict[int, EventVersion]] = {}
        # Called with the endpoint and the reason when delivery failures disable it.
        self.on_disabled = on_disabled
        self.event_type(TEST_EVENT, version=1, model=WebhookTestV1, description="A test event.")

    def event_type(
        self,
        name: str,
        *,
        version: int,
        model: type[BaseModel],
        description: str = "",
        derive: Derive | None = None,
    ) -> None:
        """Register ``name`` at ``version``. ``derive(latest_data)`` gives this version's
        payload from the newest version's, so endpoints pinned to it still receive it."""
        versions = self.types.setdefault(name, {})
        if version in versions:
            raise ConfigurationError(f"webhook event {name!r} v{version} is registered twice")
        versions[version] = EventVersion(name, version, model, description, derive)

    def lookup(self, name: str, version: int | None = None) -> EventVersion:
        versions = self.types.get(name)
        if not versions:
            raise UnknownEventType(f"No webhook event type is registered as {name!r}.")
        chosen = max(versions) if version is None else version
        if chosen not in versions:
            raise UnknownEventType(f"{name!r} has no version {chosen}.", event_type=name)
        return versions[chosen]

    def schemas(self) -> list[dict[str, Any]]:
        """Every type with its versions, descriptions and JSON Schemas."""
        return [
            {
                "name": name,
                "versions": [
                    {
                        "version": v.version,
                        "description": v.description,
                        "schema": v.model.model_json_schema(),
                    }
                    for v in sorted(versions.values(), key=lambda v: v.version)
                ],
            }
            for name, versions in sorted(self.types.items())
        ]

    def payloads(self, name: str, payload: BaseModel | dict[str, Any]) -> dict[str, Any]:
        """The payload of each version of ``name``, keyed by the version as a string."""
        latest = self.lookup(name)
        data = _validated(latest, payload)
        out = {str(latest.version): data}
        for version in self.types[name].values():
            if version.version != latest.version and version.derive is not None:
                out[str(version.version)] = _validated(version, version.derive(data))
        return out

    async def publish(
        self,
        session: AsyncSession,
        name: str,
        payload: BaseModel | dict[str, Any],
        *,
        tenant_id: uuid.UUID,
    ) -> uuid.UUID:
        """Publish an event to ``tenant_id``'s endpoints, in ``session``'s transaction:
        nothing is sent if it rolls back. Returns the message id.

        >>> async def create_task(session: AsyncSession, org: uuid.UUID) -> None:
        ...     await webhooks.publish(session, "task.created", {"id": "t1"}, tenant_id=org)
        """
        message_id = uuid7()
        envelope = {
            "id": str(message_id),
            "type": name,
            "tenant_id": str(tenant_id),
            "timestamp": utcnow().isoformat(),
            "data": self.payloads(name, payload),
        }
        add(session, TOPIC, envelope)
        return message_id


def _validated(version: EventVersion, payload: BaseModel | dict[str, Any]) -> dict[str, Any]:
    try:
        model = version.model.model_validate(
            payload.model_dump() if isinstance(payload, BaseModel) else payload
        )
    except ValidationError as exc:
        raise InvalidEventPayload(
            f"The payload of {version.name!r} v{version.version} does not match its model: "
            f"{exc.errors(include_url=False)}"
        ) from exc
    return model.model_dump(mode="json")
