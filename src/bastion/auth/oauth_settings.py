"""One OpenID Connect provider of ``BASTION_AUTH__OAUTH_PROVIDERS``."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

PROVIDER_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class OAuthProvider(BaseModel):
    """A client registration at an OpenID Connect provider."""

    client_id: str = Field(min_length=1, description="The client id the provider issued.")
    client_secret: SecretStr = Field(description="The client secret the provider issued.")
    discovery_url: str = Field(
        pattern=r"^https?://",
        description="The provider's `/.well-known/openid-configuration` document.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "email", "profile"],
        description="Scopes asked for; `openid` is required.",
    )
    redirect_uri: str | None = Field(
        None,
        description="The callback URL registered at the provider; by default the app's own "
        "`/auth/oauth/{provider}/callback` as the request saw it.",
    )

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("OpenID Connect needs the scope 'openid'")
        return value
