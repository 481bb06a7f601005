"""``BASTION_SECURITY__*``: parsing, validation and start-up checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bastion import BastionSettings, ConfigurationError, create_app

pytestmark = pytest.mark.security

STRONG = "a-long-random-value-from-your-secret-store-0123456789"


def _ids(settings: BastionSettings) -> dict[str, str]:
    return {m.id: m.level for m in settings.checks() if m.id.startswith("security.")}


def test_environment_variables_fill_the_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_SECURITY__ARGON2_MEMORY_KIB", "65536")
    monkeypatch.setenv("BASTION_SECURITY__PREVIOUS_SECRET_KEYS", "old-key-1, old-key-2")
    monkeypatch.setenv("BASTION_SECURITY__JWT_ALGORITHM", "HS256")
    settings = BastionSettings()
    assert settings.security.argon2_memory_kib == 65536
    assert [k.get_secret_value() for k in settings.security.previous_secret_keys] == [
        "old-key-1",
        "old-key-2",
    ]
    assert "old-key-1" not in repr(settings.security)
    assert settings.security.secret_keys(settings.secret_key) == [
        settings.secret_key.get_secret_value(),
        "old-key-1",
        "old-key-2",
    ]
    assert settings.security.jwt_algorithm == "HS256"


def test_bad_values_fail_at_construction() -> None:
    with pytest.raises(ValidationError, match="password_min_length is larger"):
        BastionSettings(security={"password_min_length": 20, "password_max_length": 16})
    with pytest.raises(ValidationError, match="jwt_algorithm"):
        BastionSettings(security={"jwt_algorithm": "none"})


def test_defaults_pass_every_check_but_the_breach_check_in_production() -> None:
    assert _ids(BastionSettings(env="development")) == {}
    production = BastionSettings(
        env="production", secret_key=STRONG, database_url="postgresql://x/y"
    )
    assert _ids(production) == {"security.W001": "warning"}
    enabled = production.model_copy(
        update={"security": production.security.model_copy(update={"hibp_enabled": True})}
    )
    assert _ids(enabled) == {}


def test_weak_argon2_and_short_passwords_warn_in_development_and_stop_production() -> None:
    weak = {"argon2_memory_kib": 4096, "argon2_time_cost": 1, "password_min_length": 6}
    assert _ids(BastionSettings(security=weak)) == {
        "security.E001": "warning",
        "security.E002": "warning",
    }
    production = BastionSettings(
        env="production",
        secret_key=STRONG,
        database_url="postgresql://x/y",
        security={**weak, "hibp_enabled": True},
    )
    assert _ids(production) == {"security.E001": "error", "security.E002": "error"}
    with pytest.raises(ConfigurationError, match="BASTION_SECURITY__ARGON2_MEMORY_KIB"):
        create_app(production)
