"""Request and response bodies of the taskboard API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)


class ProjectPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    done: bool = False


class TaskPatch(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=500)
    done: bool | None = None


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    done: bool
    version: int
    created_at: datetime
    updated_at: datetime
