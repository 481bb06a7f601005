"""Settings from the environment, and the checks that refuse unsafe production set-ups."""

from __future__ import annotations

import pytest

from bastion import BastionSettings, ConfigurationError, create_app
from bastion.core.settings import DEFAULT_SECRET_KEY

pytestmark = pytest.mark.core
STRONG = "s" * 48


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("BASTION_"):
            monkeypatch.delenv(name)


def test_defaults_run_locally_on_sqlite():
    settings = BastionSettings()
    assert settings.env == "development"
    assert settings.database_url == "sqlite+aiosqlite:///./bastion.db"
    assert settings.cors.allow_origins == []
    assert settings.redis_url is None


def test_environment_with_nested_and_list_values(monkeypatch):
    monkeypatch.setenv("BASTION_ENV", "test")
    monkeypatch.setenv("BASTION_DATABASE_URL", "postgresql://u@db/app")
    monkeypatch.setenv("BASTION_CORS__ALLOW_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("BASTION_CORS__ALLOW_HEADERS", '["X-One","X-Two"]')
    monkeypatch.setenv("BASTION_HTTP__MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("BASTION_LOG__JSON", "true")
    settings = BastionSettings()
    assert settings.database_url == "postgresql+asyncpg://u@db/app"
    assert settings.cors.allow_origins == ["https://a.example", "https://b.example"]
    assert settings.cors.allow_headers == ["X-One", "X-Two"]
    assert settings.http.max_body_bytes == 2048
    assert settings.log_json is True


def test_secret_is_not_shown_in_repr():
    settings = BastionSettings(secret_key=STRONG)
    assert STRONG not in repr(settings)


def test_invalid_values_name_the_field(monkeypatch):
    monkeypatch.setenv("BASTION_HTTP__MAX_BODY_BYTES", "-1")
    with pytest.raises(ValueError, match="max_body_bytes"):
        BastionSettings()


def ids(settings: BastionSettings) -> dict[str, str]:
    return {m.id: m.level for m in settings.checks()}


def test_production_refuses_default_secret():
    settings = BastionSettings(env="production", database_url="postgresql://x/y")
    assert ids(settings)["core.E001"] == "error"
    with pytest.raises(ConfigurationError, match="BASTION_SECRET_KEY"):
        create_app(settings)


def test_production_refuses_short_secret():
    settings = BastionSettings(
        env="production", secret_key="short", database_url="postgresql://x/y"
    )
    assert ids(settings)["core.E002"] == "error"


def test_production_refuses_sqlite_without_opt_in():
    settings = BastionSettings(env="production", secret_key=STRONG)
    assert ids(settings) == {
        "core.E004": "error",
        "core.W001": "warning",
        "ratelimit.W001": "warning",
        "security.W001": "warning",
    }
    with pytest.raises(ConfigurationError, match="BASTION_DATABASE_URL"):
        create_app(settings)
    opted_in = BastionSettings(env="production", secret_key=STRONG, allow_sqlite_in_production=True)
    assert "core.E004" not in ids(opted_in)


def test_wildcard_origin_with_credentials_is_refused_everywhere():
    settings = BastionSettings(cors={"allow_origins": ["*"], "allow_credentials": True})
    assert ids(settings)["core.E003"] == "error"
    with pytest.raises(ConfigurationError, match="BASTION_CORS__ALLOW_ORIGINS"):
        create_app(settings)


def test_development_only_warns_about_default_secret():
    settings = BastionSettings()
    assert settings.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
    assert ids(settings) == {"core.E001": "warning"}


def test_good_production_settings_pass():
    settings = BastionSettings(
        env="production",
        secret_key=STRONG,
        database_url="postgresql://x/y",
        redis_url="redis://127.0.0.1:6379/0",
        docs_enabled=False,
        cors={"allow_origins": ["https://app.example"], "allow_credentials": True},
        security={"hibp_enabled": True},
    )
    assert settings.checks() == []
    assert settings.hsts_enabled and settings.log_json
