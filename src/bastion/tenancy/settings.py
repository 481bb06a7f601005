"""``BASTION_TENANCY__*`` settings."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from bastion.core.settings import CsvList, split_csv

Source = Literal["path", "header", "token", "subdomain"]
SOURCES: tuple[Source, ...] = ("path", "header", "token", "subdomain")


class TenancySettings(BaseModel):
    """How the tenant of a request is found, isolation and quotas."""

    sources: CsvList = Field(
        default_factory=lambda: ["path", "header", "token"],
        description="Where the tenant is read from, in order: path, header, token, subdomain.",
    )
    header: str = Field("X-Tenant-ID", description="Header naming the tenant (an org id).")
    subdomain_base: str | None = Field(
        None, description="Domain under which `<org id>.<base>` names the tenant (subdomain)."
    )
    rls: bool = Field(
        False,
        description="Set the tenant on every PostgreSQL transaction for row-level security.",
    )
    default_quotas: dict[str, int] = Field(
        default_factory=dict,
        description='Limits of tenants without their own, as JSON: {"projects": 100}.',
    )

    _split = field_validator("sources", mode="before")(split_csv)

    @field_validator("sources")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [source for source in value if source not in SOURCES]
        if unknown or not value:
            raise ValueError(f"tenant sources are some of {', '.join(SOURCES)}; got {value}")
        return value

    @field_validator("default_quotas", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value
