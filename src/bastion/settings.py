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
from bastion.ops.settings import (
    MaintenanceSettings,
    MetricsSettings,
    SheddingSettings,
    ShutdownSettings,
)
from bastion.ratelimit.settings import RateLimitSettings
from bastion.security.settings import SecuritySettings


class BastionSettings(CoreSettings):
    """Every setting of Bastion; see ``docs/settings.md``."""

    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    shutdown: ShutdownSettings = Field(default_factory=ShutdownSettings)
    shedding: SheddingSettings = Field(default_factory=SheddingSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    def checks(self) -> list[CheckMessage]:
        return [
            *super().checks(),
            *self.ratelimit.checks(
                production=self.is_production, has_redis=self.redis_url is not None
            ),
            *self.security.checks(production=self.is_production),
            *self.auth.checks(production=self.is_production),
        ]
