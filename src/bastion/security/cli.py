"""``bastion keys``: roll the JWT signing keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bastion.core.cli import CliContext, fail, with_database
from bastion.security.audit import AuditLog
from bastion.security.crypto import SecretBox
from bastion.security.jwt import ALGORITHMS, Algorithm
from bastion.security.keys import SigningKeyStore
from bastion.security.settings import SecuritySettings

keys_app = typer.Typer(help="JWT signing keys.", no_args_is_help=True)
T = TypeVar("T")


def _security(cli: CliContext) -> SecuritySettings:
    # The app's settings when --app is given; otherwise the core settings carry no
    # section, and only the current secret key is known.
    section = getattr(cli.settings, "security", None)
    return section if isinstance(section, SecuritySettings) else SecuritySettings()


def _with_store(ctx: typer.Context, action: Callable[[SigningKeyStore], Awaitable[T]]) -> T:
    cli: CliContext = ctx.obj
    box = SecretBox(_security(cli).secret_keys(cli.settings.secret_key))
    return with_database(cli, lambda db: action(SigningKeyStore(db, box, audit=AuditLog(db))))


@keys_app.command()
def rotate(
    ctx: typer.Context,
    alg: Annotated[
        str | None,
        typer.Option(help="EdDSA or HS256; default BASTION_SECURITY__JWT_ALGORITHM."),
    ] = None,
) -> None:
    """Add a signing key (it signs once every process has loaded it) and re-seal
    keys sealed with a previous BASTION_SECRET_KEY with the current one."""
    chosen = alg or _security(ctx.obj).jwt_algorithm
    if chosen not in ALGORITHMS:
        fail(f"--alg must be one of {', '.join(ALGORITHMS)}, not {chosen!r}")
    algorithm: Algorithm = "EdDSA" if chosen == "EdDSA" else "HS256"
    kid = _with_store(ctx, lambda store: store.rotate(algorithm))
    typer.echo(f"created {algorithm} key {kid}")


@keys_app.command()
def retire(
    ctx: typer.Context, kid: Annotated[str, typer.Argument(help="The key id (see 'list').")]
) -> None:
    """Retire KID: it stops signing and the tokens it signed stop verifying."""
    _with_store(ctx, lambda store: store.retire(kid))
    typer.echo(f"retired key {kid}")


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """Every signing key, oldest first."""
    keys = _with_store(ctx, lambda store: store.list_keys())
    table = Table("kid", "alg", "created", "retired")
    for key in keys:
        retired = key.retired_at.isoformat(timespec="seconds") if key.retired_at else "-"
        table.add_row(key.kid, key.alg, key.created_at.isoformat(timespec="seconds"), retired)
    Console(width=200).print(table)
    if not keys:
        typer.echo("no signing keys: create one with 'bastion keys rotate'")
