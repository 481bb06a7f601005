"""Helpers every feature's CLI shares: the app (when given), its settings, one-line failures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cached_property
from pathlib import Path
from typing import NoReturn, TypeVar

import typer
from alembic.util import CommandError
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bastion.core.app_loader import load_app
from bastion.core.db import Database
from bastion.core.errors import BastionError
from bastion.core.settings import CoreSettings
from bastion.core.state import Seeder, bastion_state

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def run(action: Callable[[], T]) -> T:
    """Run ``action``; known failures print one line and exit 1."""
    try:
        return action()
    except BastionError as exc:
        fail(str(exc))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"invalid settings: {problems}")
    except CommandError as exc:
        fail(f"migration: {exc}")
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first_line = (str(cause).splitlines() or [""])[0]
        fail(f"database: {type(cause).__name__}: {first_line}")
    except OSError as exc:
        fail(f"{exc.__class__.__name__}: {exc}")


def run_async(action: Callable[[], Awaitable[T]]) -> T:
    return run(lambda: asyncio.run(action()))  # type: ignore[arg-type]


class CliContext:
    """The app named by ``--app`` (loaded on first use) or settings from the environment."""

    def __init__(self, app_path: str | None) -> None:
        self.app_path = app_path

    @cached_property
    def app(self) -> FastAPI | None:
        if not self.app_path:
            return None
        path = self.app_path
        return run(lambda: load_app(path))

    def require_app(self) -> FastAPI:
        if self.app is None:
            fail("this command needs the app: pass --app package.module:app or set BASTION_APP")
        return self.app

    @property
    def settings(self) -> CoreSettings:
        return bastion_state(self.app).settings if self.app else CoreSettings()

    @property
    def migration_dirs(self) -> list[Path]:
        return list(bastion_state(self.app).migration_dirs) if self.app else []

    @property
    def seeders(self) -> dict[str, Seeder]:
        return dict(bastion_state(self.app).seeders) if self.app else {}


def with_database(cli: CliContext, action: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``action`` on a fresh engine for the app's database, then dispose of it."""

    async def go() -> T:
        db = Database.from_settings(cli.settings)
        try:
            return await action(db)
        finally:
            await db.dispose()

    return run_async(go)
