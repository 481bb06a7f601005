"""Request and response bodies of the authentication routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bastion.auth.context import normalize_email
from bastion.auth.sessions import TokenPair

Email = Annotated[str, Field(max_length=320), AfterValidator(normalize_email)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
Code = Annotated[str, Field(min_length=4, max_length=32)]


class RegisterIn(BaseModel):
    email: Email
    password: Password
    display_name: str = Field("", max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    email_verified: bool
    created_at: datetime


class TokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: Password
    mfa_code: Code | None = None
    device_name: str = Field("", max_length=200)


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    session_id: uuid.UUID

    @classmethod
    def of(cls, pair: TokenPair) -> TokenPairOut:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
            session_id=pair.session_id,
        )


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    device_name: str
    user_agent: str
    ip: str
    created_at: datetime
    last_used_at: datetime
    current: bool = False


class RevokedOut(BaseModel):
    revoked: int


class TotpSetupOut(BaseModel):
    secret: str
    otpauth_uri: str


class CodeIn(BaseModel):
    code: Code


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class MfaDisableIn(BaseModel):
    password: Password | None = None
    code: Code | None = None


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.:*-]{0,99}$")]] = Field(
        default_factory=list, max_length=100
    )
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The key itself; shown only in this response.")


class PasswordChangeIn(BaseModel):
    current_password: Password
    new_password: Password


class ForgotIn(BaseModel):
    email: str = Field(max_length=320)


class ResetIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: Password
