"""``BASTION_WEBHOOKS__*`` settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from bastion.core.checks import CheckMessage
from bastion.core.settings import CsvList, split_csv

DEFAULT_SCHEDULE = [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]


class WebhooksSettings(BaseModel):
    """Outgoing webhooks: delivery, retries, SSRF policy, secrets; and inbound checks."""

    enabled: bool = Field(
        True, description="Deliver and mount /webhooks when create_app is given event types."
    )
    retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE),
        description="Delays (s) before each attempt: the first, then each retry.",
    )
    jitter: float = Field(
        0.1, ge=0, le=1, description="Spread of a retry delay, as a fraction of it (±)."
    )
    max_retry_after_seconds: float = Field(
        86_400.0, gt=0, description="The longest receiver Retry-After honoured."
    )
    connect_timeout_seconds: float = Field(5.0, gt=0, description="Connect timeout of a POST.")
    timeout_seconds: float = Field(15.0, gt=0, description="Total timeout of a POST.")
    response_excerpt_bytes: int = Field(
        4096, ge=0, description="How much of each response body an attempt keeps."
    )
    disable_after_seconds: float = Field(
        432_000.0, gt=0, description="An endpoint failing continuously this long is disabled."
    )
    rotation_grace_seconds: float = Field(
        86_400.0, ge=0, description="How long the previous secret still signs after a rotation."
    )
    secret_bytes: int = Field(32, ge=24, le=64, description="Random bytes of a new secret.")
    allow_private_targets: bool = Field(
        False, description="Allow private, loopback and link-local targets (development, tests)."
    )
    allowed_targets: CsvList = Field(
        default_factory=list,
        description="Hosts or networks (CIDR) allowed even when private, e.g. 10.1.2.0/24.",
    )
    rate_per_second: float = Field(
        50.0, gt=0, description="Most deliveries per second to one endpoint (per process)."
    )
    breaker_open_seconds: float = Field(
        30.0, gt=0, description="How long an endpoint's breaker stays open after it trips."
    )
    breaker_minimum_calls: int = Field(
        10, ge=1, description="Attempts in the window before an endpoint's breaker may trip."
    )
    concurrency: int = Field(
        16, ge=1, description="Deliveries sent at once by each job worker's dispatcher."
    )
    batch_size: int = Field(
        100, ge=1, description="Deliveries a dispatcher claims, and records, per transaction."
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="How often a dispatcher looks for retries that fell due."
    )

    _split = field_validator("allowed_targets", "retry_schedule", mode="before")(split_csv)

    @field_validator("retry_schedule")
    @classmethod
    def _schedule(cls, value: list[float]) -> list[float]:
        if not value or any(delay < 0 for delay in value):
            raise ValueError("the retry schedule needs at least one delay, none negative")
        return value

    def checks(self, *, production: bool) -> list[CheckMessage]:
        if production and self.allow_private_targets:
            return [
                CheckMessage(
                    "webhooks.E001",
                    "error",
                    "Webhooks may be sent to private addresses in production (SSRF).",
                    "Unset BASTION_WEBHOOKS__ALLOW_PRIVATE_TARGETS; list exceptions in "
                    "BASTION_WEBHOOKS__ALLOWED_TARGETS.",
                )
            ]
        return []
