"""Start-up checks of the authentication settings."""

from __future__ import annotations

import pytest

from bastion.auth.settings import AuthSettings

pytestmark = pytest.mark.security


def test_production_refuses_insecure_cookies_and_plain_http_providers():
    provider = {"client_id": "a", "client_secret": "b", "discovery_url": "http://idp.local/x"}
    settings = AuthSettings(
        cookie_mode=True, cookie_secure=False, oauth_providers={"idp": provider}
    )
    assert [m.id for m in settings.checks(production=True)] == ["auth.E001", "auth.E002"]
    assert settings.checks(production=False) == []
    https = provider | {"discovery_url": "https://idp.example/x"}
    assert AuthSettings(oauth_providers={"idp": https}).checks(production=True) == []
