"""``BASTION_OUTBOX__*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OutboxSettings(BaseModel):
    """How relays claim, deliver and retry outbox messages, and what is kept."""

    batch_size: int = Field(100, gt=0, description="Most messages a relay claims at once.")
    poll_seconds: float = Field(
        1.0, gt=0, description="Longest sleep of an idle relay (PostgreSQL wakes it on NOTIFY)."
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="How long a claimed batch is a relay's before others may take it."
    )
    max_attempts: int = Field(
        10, gt=0, description="Deliveries tried before a message is marked dead."
    )
    backoff_seconds: float = Field(
        1.0, gt=0, description="Delay before the first retry; doubled at each further one."
    )
    backoff_max_seconds: float = Field(300.0, gt=0, description="Longest delay between retries.")
    retention_seconds: float = Field(
        604_800.0, gt=0, description="How long sent messages and inbox entries are kept (7 days)."
    )
    relay_in_app: bool = Field(
        False, description="Run a relay inside each app process, beside the requests."
    )
