"""Request and response bodies of ``/orgs`` and ``/invitations``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bastion.auth.context import normalize_email


class OrgIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    role: str
    created_at: datetime


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    role: str
    joined_at: datetime


class RoleIn(BaseModel):
    role: str = Field(min_length=1, max_length=64)


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime


class TeamMemberIn(BaseModel):
    user_id: uuid.UUID


class TeamMemberOut(BaseModel):
    user_id: uuid.UUID
    email: str


class InvitationIn(BaseModel):
    email: str = Field(max_length=320)
    role: str = Field("member", min_length=1, max_length=64)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str
    created_at: datetime
    expires_at: datetime


class SwitchOrgIn(BaseModel):
    org_id: uuid.UUID


class AcceptIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    ip: str
    request_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value
