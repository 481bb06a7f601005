"""``BASTION_IDEMPOTENCY__*`` settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from bastion.core.checks import CheckMessage
from bastion.core.settings import CsvList, split_csv


class IdempotencySettings(BaseModel):
    """Where ``Idempotency-Key`` records live and how long they last."""

    backend: Literal["memory", "sql", "redis"] = Field(
        "sql", description="Where keys live: the database, Redis, or this process's memory."
    )
    ttl_seconds: float = Field(
        86_400.0, gt=0, description="How long a stored response is replayed (24 h)."
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="How long a running request holds its key before a retry may run."
    )
    methods: CsvList = Field(
        default_factory=lambda: ["POST", "PATCH"],
        description="Methods whose Idempotency-Key is honoured, unless a route says otherwise.",
    )
    stored_headers: CsvList = Field(
        default_factory=lambda: ["content-type", "location", "etag", "cache-control", "link"],
        description="Response headers stored and replayed with the body.",
    )
    key_prefix: str = Field("bastion:", description="Prefix of the Redis keys.")

    _split = field_validator("methods", "stored_headers", mode="before")(split_csv)

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [method.upper() for method in value]

    @field_validator("stored_headers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [name.lower() for name in value]

    def checks(self, *, has_redis: bool) -> list[CheckMessage]:
        if self.backend == "redis" and not has_redis:
            return [
                CheckMessage(
                    "idempotency.E001",
                    "error",
                    "The Redis idempotency backend needs Redis.",
                    "Set BASTION_REDIS_URL or BASTION_IDEMPOTENCY__BACKEND=sql.",
                )
            ]
        return []
