"""What the app built at start-up, kept on ``app.state.bastion``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.core.client_ip import ClientIP
from bastion.core.clock import Clock, SystemClock
from bastion.core.db import Database
from bastion.core.http import HttpClient
from bastion.core.mail import Mailer, RecordingMailer
from bastion.core.routes import RouteIndex
from bastion.core.settings import CoreSettings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncSession

Seeder = Callable[["AsyncSession"], Awaitable[None]]


@dataclass
class BastionState:
    """Everything a dependency, CLI command or test needs from the running app."""

    settings: CoreSettings
    db: Database
    redis: Redis | None = None
    clock: Clock = field(default_factory=SystemClock)
    http: HttpClient = field(default_factory=HttpClient)
    migration_dirs: Sequence[Path] = ()
    seeders: dict[str, Seeder] = field(default_factory=dict)
    routes: RouteIndex = field(default_factory=lambda: RouteIndex([]))
    mailer: Mailer = field(default_factory=RecordingMailer)
    client_ip: ClientIP = field(default_factory=ClientIP)
    # What features built for this app, by feature name ("metrics", "ratelimit", ...).
    extensions: dict[str, Any] = field(default_factory=dict)


def bastion_state(app: FastAPI | Any) -> BastionState:
    """The state of an app made by :func:`bastion.create_app`."""
    state = getattr(app.state, "bastion", None)
    if not isinstance(state, BastionState):
        raise TypeError("this app was not built by bastion.create_app")
    return state
