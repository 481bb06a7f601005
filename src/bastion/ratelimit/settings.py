"""``BASTION_RATELIMIT__*`` settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from bastion.core.checks import CheckMessage
from bastion.core.settings import CsvList, split_csv
from bastion.ratelimit.limits import parse_limits


class RateLimitSettings(BaseModel):
    """Global and authentication rate limits, and how decisions are made."""

    enabled: bool = Field(True, description="Install the rate limiter.")
    default: str | None = Field(
        "600/minute", description="Limit per client IP on every route; empty turns it off."
    )
    auth: str = Field(
        "10/minute;burst=5",
        description="Default for login, password reset, invitation resend and MFA verify.",
    )
    backend: Literal["auto", "memory", "redis"] = Field(
        "auto", description="Where counters live; auto is Redis when BASTION_REDIS_URL is set."
    )
    timeout_ms: int = Field(50, gt=0, description="Longest wait for a decision from Redis.")
    fail_mode: Literal["open", "closed"] = Field(
        "open", description="When the store fails: allow (open) or answer 503 (closed)."
    )
    exclude_paths: CsvList = Field(
        default_factory=lambda: [
            "/livez",
            "/readyz",
            "/startupz",
            "/metrics",
            "/docs",
            "/redoc",
            "/openapi.json",
        ],
        description="Path prefixes the global limit skips.",
    )
    key_prefix: str = Field("bastion:", description="Prefix of the Redis keys.")
    max_memory_keys: int = Field(100_000, gt=0, description="Bound of the in-memory store.")
    override_cache_seconds: float = Field(
        30.0, ge=0, description="How long per-tenant override lookups are cached."
    )

    _split = field_validator("exclude_paths", mode="before")(split_csv)

    @field_validator("default", "auth")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value:
            parse_limits(value)
        return value or None

    def checks(self, *, production: bool, has_redis: bool) -> list[CheckMessage]:
        found = []
        if production and self.enabled and self.backend == "auto" and not has_redis:
            found.append(
                CheckMessage(
                    "ratelimit.W001",
                    "warning",
                    "Rate limits are counted in memory, per process.",
                    "Set BASTION_REDIS_URL so that every process shares the counters.",
                )
            )
        if self.backend == "redis" and not has_redis:
            found.append(
                CheckMessage(
                    "ratelimit.E001",
                    "error",
                    "The Redis rate limit backend needs Redis.",
                    "Set BASTION_REDIS_URL or BASTION_RATELIMIT__BACKEND=memory.",
                )
            )
        return found
