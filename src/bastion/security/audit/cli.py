"""``bastion audit verify``: walk the hash chains and name the first broken event."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from bastion.core.cli import CliContext, fail, with_database
from bastion.core.db import Database
from bastion.security.audit.chain import ChainBreak, chain_of
from bastion.security.audit.log import AuditLog

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)


@audit_app.command()
def verify(
    ctx: typer.Context,
    org: Annotated[
        str | None, typer.Option("--org", help="Only this organization's chain (its id).")
    ] = None,
) -> None:
    """Check every chain (or one organization's); exit 1 at the first broken event."""
    cli: CliContext = ctx.obj
    try:
        only = None if org is None else chain_of(uuid.UUID(org))
    except ValueError:
        fail(f"--org must be an organization id (a UUID), not {org!r}")

    async def go(db: Database) -> tuple[int, ChainBreak | None]:
        audit = AuditLog(db)
        chains = [only] if only else await audit.chains()
        for chain in chains:
            broken = await audit.verify(chain)
            if broken is not None:
                return len(chains), broken
        return len(chains), None

    checked, broken = with_database(cli, go)
    if broken is not None:
        fail(f"audit chain broken: {broken}")
    typer.echo(f"ok: {checked} chain(s) verified")
