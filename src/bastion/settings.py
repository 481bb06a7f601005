"""``BastionSettings``: the core settings plus one section per feature.

>>> s = BastionSettings(env="test", ratelimit={"default": "100/minute"})
>>> s.ratelimit.default
'100/minute'
"""

from __future__ import annotations

from pydantic import Field

from bastion.auth.settings import AuthSettings
from bastion.core.checks import CheckMessage
from bastion.core.settings import CoreSettings
from bastion.idempotency.settings import IdempotencySettings
from bastion.jobs.settings import JobsSettings
from bastion.ops.settings import (
    BreakerSettings,
    MaintenanceSettings,
    MetricsSettings,
    SheddingSettings,
    ShutdownSettings,
    TracingSettings,
)
from bastion.orgs.settings import AuditSettings, OrgsSettings
from bastion.outbox.settings import OutboxSettings
from bastion.ratelimit.settings import RateLimitSettings
from bastion.security.settings import SecuritySettings
from bastion.tenancy.settings import TenancySettings
from bastion.webhooks.settings import WebhooksSettings


class BastionSettings(CoreSettings):
    """Every setting of Bastion; see ``docs/settings.md``."""

    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    shutdown: ShutdownSettings = Field(default_factory=ShutdownSettings)
    shedding: SheddingSettings = Field(default_factory=SheddingSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    breakers: BreakerSettings = Field(default_factory=BreakerSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    orgs: OrgsSettings = Field(default_factory=OrgsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    tenancy: TenancySettings = Field(default_factory=TenancySettings)
    webhooks: WebhooksSettings = Field(default_factory=WebhooksSettings)

    def checks(self) -> list[CheckMessage]:
        return [
            *super().checks(),
            *self.ratelimit.checks(
                production=self.is_production, has_redis=self.redis_url is not None
            ),
            *self.security.checks(production=self.is_production),
            *self.idempotency.checks(has_redis=self.redis_url is not None),
            *self.jobs.checks(has_redis=self.redis_url is not None),
            *self.auth.checks(production=self.is_production),
            *self.breakers.checks(has_redis=self.redis_url is not None),
            *self.webhooks.checks(production=self.is_production),
        ]
