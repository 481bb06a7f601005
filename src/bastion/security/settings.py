"""``BASTION_SECURITY__*`` settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from bastion.core.checks import CheckMessage
from bastion.core.settings import split_csv
from bastion.security.passwords import meets_owasp_minimum

# NIST SP 800-63B: never fewer than 8 characters.
NIST_MIN_LENGTH = 8


class SecuritySettings(BaseModel):
    """Password hashing and policy, the breach check, secrets at rest and JWT keys."""

    argon2_time_cost: int = Field(2, ge=1, description="Argon2id iterations.")
    argon2_memory_kib: int = Field(19_456, ge=8, description="Argon2id memory per hash, in KiB.")
    argon2_parallelism: int = Field(1, ge=1, description="Argon2id lanes.")
    password_min_length: int = Field(12, ge=1, description="Fewest characters in a password.")
    password_max_length: int = Field(128, ge=1, description="Most characters in a password.")
    hibp_enabled: bool = Field(
        False, description="Refuse passwords found in breaches (Have I Been Pwned range API)."
    )
    hibp_base_url: str = Field(
        "https://api.pwnedpasswords.com", description="Base URL of the Pwned Passwords API."
    )
    hibp_timeout_seconds: float = Field(2.0, gt=0, description="Longest wait for the breach check.")
    hibp_fail_open: bool = Field(
        True, description="When the breach check is unreachable: accept (true) or refuse (false)."
    )
    hibp_cache_seconds: float = Field(
        3600.0, ge=0, description="How long a range answer is cached per hash prefix."
    )
    hibp_cache_entries: int = Field(1000, ge=1, description="Most hash prefixes cached.")
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Former secret keys: they still decrypt and verify, never encrypt or sign.",
    )
    key_ring_reload_seconds: float = Field(
        30.0, gt=0, description="How often each process reloads the JWT signing keys."
    )
    jwt_algorithm: Literal["EdDSA", "HS256"] = Field(
        "EdDSA", description="Algorithm of new JWT signing keys."
    )
    jwt_leeway_seconds: float = Field(
        30.0, ge=0, description="Clock skew allowed when checking a JWT's exp and nbf."
    )

    _split = field_validator("previous_secret_keys", mode="before")(split_csv)

    @model_validator(mode="after")
    def _lengths(self) -> SecuritySettings:
        if self.password_min_length > self.password_max_length:
            raise ValueError("password_min_length is larger than password_max_length")
        return self

    def secret_keys(self, current: SecretStr) -> list[str]:
        """``current`` (``BASTION_SECRET_KEY``) then the previous keys: what a
        :class:`~bastion.security.crypto.SecretBox` or a ``Signer`` takes."""
        return [
            current.get_secret_value(),
            *(k.get_secret_value() for k in self.previous_secret_keys),
        ]

    def checks(self, *, production: bool) -> list[CheckMessage]:
        prod: Literal["error", "warning"] = "error" if production else "warning"
        found = []
        if not meets_owasp_minimum(self.argon2_time_cost, self.argon2_memory_kib):
            found.append(
                CheckMessage(
                    "security.E001",
                    prod,
                    "The Argon2id parameters are below OWASP's minimum.",
                    "Set BASTION_SECURITY__ARGON2_MEMORY_KIB=19456 and "
                    "BASTION_SECURITY__ARGON2_TIME_COST=2 (or more).",
                )
            )
        if self.password_min_length < NIST_MIN_LENGTH:
            found.append(
                CheckMessage(
                    "security.E002",
                    prod,
                    f"Passwords may be shorter than {NIST_MIN_LENGTH} characters.",
                    "Set BASTION_SECURITY__PASSWORD_MIN_LENGTH to 8 or more (12 is the default).",
                )
            )
        if production and not self.hibp_enabled:
            found.append(
                CheckMessage(
                    "security.W001",
                    "warning",
                    "Passwords are not checked against known breaches.",
                    "Set BASTION_SECURITY__HIBP_ENABLED=true (only a 5-character hash prefix "
                    "leaves the server).",
                )
            )
        return found
