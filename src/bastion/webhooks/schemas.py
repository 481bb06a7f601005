"""Request and response bodies of the management API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bastion.webhooks.signing import Scheme


class EndpointIn(BaseModel):
    url: str = Field(max_length=2000, description="Where events are POSTed (https).")
    event_types: list[str] = Field(min_length=1, description="Event types to receive.")
    version: int = Field(1, ge=1, description="The event version this endpoint receives.")
    description: str = Field("", max_length=500)
    signature: Scheme = Field(
        "v1",
        description="v1: HMAC-SHA256 with a shared whsec_ secret; v1a: Ed25519, receivers "
        "hold only the whpk_ public key.",
    )


class EndpointPatch(BaseModel):
    url: str | None = Field(None, max_length=2000)
    event_types: list[str] | None = Field(None, min_length=1)
    version: int | None = Field(None, ge=1)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    version: int
    description: str
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


class SecretOut(BaseModel):
    secret: str = Field(description="The whsec_ secret, or a v1a endpoint's whpk_ public key.")
    signature: Scheme
    previous_valid_until: datetime | None = None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    delivery_id: uuid.UUID
    message_id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    duration_ms: float
    succeeded: bool
    error: str | None
    response: str | None


class OutcomeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    succeeded: bool
    status_code: int | None
    duration_ms: float
    error: str | None
    response: str | None


class Requeued(BaseModel):
    requeued: int


class EventTypeOut(BaseModel):
    name: str
    versions: list[dict[str, Any]]
