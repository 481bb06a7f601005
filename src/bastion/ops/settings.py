"""``BASTION_METRICS__*`` settings: who may read ``/metrics``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bastion.core.checks import CheckMessage
from bastion.core.client_ip import parse_networks
from bastion.core.settings import CsvList, split_csv
from bastion.ops.http_metrics import DURATION_BUCKETS


class MetricsSettings(BaseModel):
    """``/metrics`` and the HTTP metrics; optional protection of ``/metrics`` (with
    neither token nor networks set, anyone may read it)."""

    enabled: bool = Field(
        True, description="Time every request (http_server_* metrics) and serve /metrics."
    )
    token: SecretStr | None = Field(
        None, description="Bearer token a scraper must send; unset lets any client in."
    )
    allow_networks: CsvList = Field(
        default_factory=list,
        description="Client networks (CIDR) allowed to scrape; empty allows every address.",
    )

    duration_buckets: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DURATION_BUCKETS),
        description="Upper bounds (s) of the request duration histogram; a latency SLO's "
        "threshold must be one of them.",
    )

    _split = field_validator("allow_networks", "duration_buckets", mode="before")(split_csv)

    @field_validator("duration_buckets")
    @classmethod
    def _buckets(cls, value: list[float]) -> list[float]:
        if not value or any(bound <= 0 for bound in value) or len(set(value)) != len(value):
            raise ValueError("duration buckets must be distinct positive numbers of seconds")
        return sorted(value)

    @field_validator("token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # ValueError names the bad one
        return value


class MetricsEnvironment(BaseSettings):
    """``BASTION_METRICS__*`` alone, for commands run without the app (``--app``)."""

    model_config = SettingsConfigDict(
        env_prefix="BASTION_", env_nested_delimiter="__", extra="ignore"
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)


class MaintenanceSettings(BaseModel):
    """Maintenance mode (switched with ``bastion ops maintenance``)."""

    poll_seconds: float = Field(
        2.0, gt=0, description="How often each process reads the maintenance switch."
    )
    exempt_paths: CsvList = Field(
        default_factory=lambda: ["/livez", "/readyz", "/startupz", "/metrics"],
        description="Paths (and the paths under them) served during maintenance, e.g. admin.",
    )

    _split = field_validator("exempt_paths", mode="before")(split_csv)


class ShutdownSettings(BaseModel):
    """What a process does on SIGTERM (see ``docs/ops.md``, "Graceful shutdown")."""

    drain_seconds: float = Field(
        0.0,
        ge=0,
        description=(
            "After SIGTERM, seconds to keep serving with /readyz at 503 before the server "
            "stops accepting connections; 0 stops accepting at once."
        ),
    )
    grace_seconds: float = Field(
        30.0,
        gt=0,
        description="Then, longest wait for requests in flight before they are cut (serve).",
    )


class SheddingSettings(BaseModel):
    """Load shedding: refuse requests over a per-process concurrency limit."""

    max_in_flight: int = Field(
        0,
        ge=0,
        description="Most requests in progress per process; more get 503 ops.overloaded. 0: off.",
    )
    retry_after_seconds: int = Field(
        1, ge=1, description="Retry-After of an ops.overloaded answer, in seconds."
    )
    exempt_paths: CsvList = Field(
        default_factory=lambda: ["/livez", "/readyz", "/startupz", "/metrics"],
        description="Paths (and the paths under them) never shed: probes and metrics.",
    )

    _split = field_validator("exempt_paths", mode="before")(split_csv)


class TracingSettings(BaseModel):
    """OpenTelemetry tracing (extra ``otel``); the exporter comes from the ``OTEL_*`` variables."""

    enabled: bool = Field(False, description="Trace requests, SQL, Redis and HTTP clients.")
    service_name: str | None = Field(
        None, description="service.name of the spans; unset: OTEL_SERVICE_NAME, else app_name."
    )


class BreakerSettings(BaseModel):
    """Circuit breakers shared by every process through Redis (``docs/circuit-breaker.md``)."""

    shared: bool = Field(
        False,
        description="Share the state of circuit breakers (open, the half-open probe) between "
        "processes through Redis; needs BASTION_REDIS_URL.",
    )
    key_prefix: str = Field("bastion:", description="Prefix of the Redis keys of the breakers.")
    refresh_seconds: float = Field(
        1.0, ge=0, description="Longest time a process decides from its copy of a shared state."
    )
    timeout_seconds: float = Field(
        0.05, gt=0, description="Longest Redis round trip of a breaker; past it, it decides alone."
    )

    def checks(self, *, has_redis: bool) -> list[CheckMessage]:
        if self.shared and not has_redis:
            return [
                CheckMessage(
                    "breakers.E001",
                    "error",
                    "Shared circuit breakers need Redis.",
                    "Set BASTION_REDIS_URL or BASTION_BREAKERS__SHARED=false.",
                )
            ]
        return []
