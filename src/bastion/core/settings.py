"""Settings: pydantic-settings, env prefix ``BASTION_``, nested delimiter ``__``.

The root class users see is :class:`bastion.BastionSettings`, which adds each
feature's section to these.

>>> s = CoreSettings(env="test", database_url="sqlite+aiosqlite:///:memory:")
>>> s.is_production
False
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bastion.core.checks import CheckMessage
from bastion.core.client_ip import parse_networks

DEFAULT_SECRET_KEY = "bastion-insecure-development-secret-change-me"  # noqa: S105
MIN_SECRET_LENGTH = 32

Environment = Literal["development", "test", "production"]


def split_csv(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class CorsSettings(BaseModel):
    """Cross-origin requests: denied unless the origin is listed."""

    allow_origins: CsvList = Field(
        default_factory=list, description="Origins allowed to call the API; empty denies all."
    )
    allow_credentials: bool = Field(False, description="Allow cookies/authorization cross-origin.")
    allow_methods: CsvList = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        description="Methods a preflight may ask for.",
    )
    allow_headers: CsvList = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "Idempotency-Key", "If-Match"],
        description="Request headers a preflight may ask for.",
    )
    expose_headers: CsvList = Field(
        default_factory=lambda: [
            "X-Request-ID",
            "ETag",
            "RateLimit",
            "RateLimit-Policy",
            "Idempotent-Replayed",
        ],
        description="Response headers browsers may read.",
    )
    max_age: int = Field(600, ge=0, description="Seconds a browser may cache a preflight answer.")

    _split = field_validator(
        "allow_origins", "allow_methods", "allow_headers", "expose_headers", mode="before"
    )(split_csv)


class HttpSettings(BaseModel):
    """Request guards and response headers."""

    max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest request body accepted; larger answers 413."
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest time to receive a request body; slower answers 408."
    )
    max_headers: int = Field(100, gt=0, description="Most request headers accepted (431).")
    max_header_bytes: int = Field(
        16_384, gt=0, description="Most bytes of request headers accepted (431)."
    )
    hsts: bool | None = Field(
        None, description="Send Strict-Transport-Security; default on in production only."
    )
    hsts_max_age: int = Field(63_072_000, ge=0, description="HSTS max-age in seconds (2 years).")
    content_security_policy: str = Field(
        "default-src 'none'; frame-ancestors 'none'",
        description="CSP for API responses (the docs pages get a relaxed one).",
    )
    request_id_header: str = Field("X-Request-ID", description="Header carrying the request id.")
    trusted_proxies: CsvList = Field(
        default_factory=list,
        description="Proxy networks (CIDR) whose X-Forwarded-For/Forwarded are believed.",
    )

    _split = field_validator("trusted_proxies", mode="before")(split_csv)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # ValueError names the bad one
        return value


class HttpClientSettings(BaseModel):
    """The outbound HTTP client (breach checks, webhooks, billing, messaging)."""

    timeout_seconds: float = Field(10.0, gt=0, description="Default timeout of one attempt.")
    retries: int = Field(
        2, ge=0, description="Retries of idempotent requests on connection errors, 502, 503, 504."
    )
    backoff_seconds: float = Field(
        0.2, ge=0, description="First retry delay; doubles each retry, with jitter."
    )
    max_connections: int = Field(100, ge=1, description="Connections kept per process.")
    max_response_bytes: int = Field(
        10_485_760, gt=0, description="Largest response body read; larger fails."
    )
    circuit_breakers: bool = Field(
        True, description="Guard each outbound host with a circuit breaker."
    )


class LogSettings(BaseModel):
    """Structured logging."""

    level: str = Field("INFO", description="Log level of the root logger.")
    json_output: bool | None = Field(
        None, alias="json", description="JSON lines; default on in production, console otherwise."
    )

    model_config = {"populate_by_name": True}

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ValueError("log level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.upper()


class CoreSettings(BaseSettings):
    """Core settings; every field maps to ``BASTION_<NAME>`` (nested with ``__``)."""

    model_config = SettingsConfigDict(
        env_prefix="BASTION_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    env: Environment = Field("development", description="development, test or production.")
    app_name: str = Field("Bastion", description="Title of the OpenAPI document.")
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET_KEY),
        description="Key for signing; at least 32 characters, required in production.",
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///./bastion.db",
        description="SQLAlchemy async URL (sqlite+aiosqlite:// or postgresql+asyncpg://).",
    )
    database_pool_size: int = Field(10, ge=1, description="PostgreSQL pool size per process.")
    database_max_overflow: int = Field(10, ge=0, description="Extra connections over the pool.")
    database_echo: bool = Field(False, description="Log every SQL statement.")
    database_connect_timeout: float = Field(
        10.0, gt=0, description="Seconds to wait for a PostgreSQL connection."
    )
    allow_sqlite_in_production: bool = Field(
        False, description="Permit SQLite when env=production (single-host deployments)."
    )
    redis_url: SecretStr | None = Field(None, description="redis:// URL; unset means no Redis.")
    redis_max_connections: int = Field(50, ge=1, description="Redis pool size per process.")
    docs_enabled: bool = Field(True, description="Serve /docs, /redoc and /openapi.json.")
    health_timeout_seconds: float = Field(2.0, gt=0, description="Timeout of each readiness check.")
    problem_type_base: str = Field(
        "urn:bastion:problem:", description="Prefix of the problem 'type' URI; the code follows."
    )
    cors: CorsSettings = Field(default_factory=CorsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    http_client: HttpClientSettings = Field(default_factory=HttpClientSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        return value

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def hsts_enabled(self) -> bool:
        return self.is_production if self.http.hsts is None else self.http.hsts

    @property
    def log_json(self) -> bool:
        return self.is_production if self.log.json_output is None else self.log.json_output

    def checks(self) -> list[CheckMessage]:
        """Findings about these settings; see ``docs/settings.md`` for each id."""
        prod: Literal["error", "warning"] = "error" if self.is_production else "warning"
        found: list[CheckMessage] = []
        secret = self.secret_key.get_secret_value()
        if secret == DEFAULT_SECRET_KEY:
            found.append(
                CheckMessage(
                    "core.E001",
                    prod,
                    "The secret key is the built-in default.",
                    "Set BASTION_SECRET_KEY to a random value of at least 32 characters "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(48))').",
                )
            )
        elif len(secret) < MIN_SECRET_LENGTH:
            found.append(
                CheckMessage(
                    "core.E002",
                    prod,
                    f"The secret key has fewer than {MIN_SECRET_LENGTH} characters.",
                    "Set BASTION_SECRET_KEY to a longer random value.",
                )
            )
        if "*" in self.cors.allow_origins and self.cors.allow_credentials:
            found.append(
                CheckMessage(
                    "core.E003",
                    "error",
                    "CORS allows any origin ('*') together with credentials.",
                    "List the origins in BASTION_CORS__ALLOW_ORIGINS or set "
                    "BASTION_CORS__ALLOW_CREDENTIALS=false.",
                )
            )
        if self.is_production and self.is_sqlite and not self.allow_sqlite_in_production:
            found.append(
                CheckMessage(
                    "core.E004",
                    "error",
                    "SQLite is configured in production.",
                    "Set BASTION_DATABASE_URL to a postgresql+asyncpg:// URL, or "
                    "BASTION_ALLOW_SQLITE_IN_PRODUCTION=true for a single-host deployment.",
                )
            )
        if self.is_production and self.docs_enabled:
            found.append(
                CheckMessage(
                    "core.W001",
                    "warning",
                    "API docs are served in production.",
                    "Set BASTION_DOCS_ENABLED=false unless the API is public.",
                )
            )
        return found
