"""The security primitives an app uses, built from its settings.

``create_app`` puts one :class:`Security` on ``app.state.bastion``; features
(``bastion.auth``) take what they need from it with :func:`security`. Each
piece is built on first use: the password hasher precomputes its dummy hash
then, not at import or start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bastion.core.clock import Clock
from bastion.core.db import Database
from bastion.core.http import HttpClient
from bastion.core.settings import CoreSettings
from bastion.core.state import bastion_state
from bastion.security.audit import AuditLog
from bastion.security.breach import HibpBreachChecker
from bastion.security.crypto import SecretBox
from bastion.security.keys import KeyRingCache, SigningKeyStore
from bastion.security.passwords import PasswordHasher
from bastion.security.policy import PasswordPolicy
from bastion.security.secrets import SecretRing
from bastion.security.settings import SecuritySettings
from bastion.security.signing import Signer

__all__ = ["Security", "security"]


@dataclass
class Security:
    """Hasher, password policy, secret box, signers and JWT key ring of one app."""

    settings: SecuritySettings
    core: CoreSettings
    db: Database
    http: HttpClient
    clock: Clock
    audit: AuditLog | None = None

    @cached_property
    def hasher(self) -> PasswordHasher:
        s = self.settings
        return PasswordHasher(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)

    @cached_property
    def breach_checker(self) -> HibpBreachChecker | None:
        if not self.settings.hibp_enabled:
            return None
        return HibpBreachChecker.from_settings(self.settings, self.http, clock=self.clock)

    @cached_property
    def policy(self) -> PasswordPolicy:
        return PasswordPolicy.from_settings(
            self.settings, app_name=self.core.app_name, breach_checker=self.breach_checker
        )

    @cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.settings.secret_keys(self.core.secret_key))

    def signer(self, salt: str) -> Signer:
        """A signer for one purpose (``salt``), with the app's current and previous keys."""
        return Signer(self.settings.secret_keys(self.core.secret_key), salt, clock=self.clock)

    @cached_property
    def signing_keys(self) -> SigningKeyStore:
        return SigningKeyStore(
            self.db,
            self.box,
            self.clock,
            publish_delay=self.settings.key_ring_reload_seconds,
            leeway=self.settings.jwt_leeway_seconds,
            audit=self.audit,
        )

    @cached_property
    def secrets(self) -> SecretRing:
        """Named secrets that rotate, sealed with the master key (webhook secrets...)."""
        return SecretRing(self.db, self.box, self.clock)

    @cached_property
    def key_ring(self) -> KeyRingCache:
        return KeyRingCache(self.signing_keys, self.settings.key_ring_reload_seconds, self.clock)


def security(app: Any) -> Security:
    """The :class:`Security` of an app built by ``create_app``."""
    found = bastion_state(app).extensions.get("security")
    if not isinstance(found, Security):
        raise TypeError("this app has no security primitives; was it built by create_app?")
    return found
