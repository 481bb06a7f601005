"""``bastion idempotency``: the cleanup job of expired keys."""

from __future__ import annotations

import typer

from bastion.core.cli import CliContext, run_async
from bastion.core.state import bastion_state
from bastion.idempotency.deps import idempotency

idempotency_app = typer.Typer(help="Idempotency keys.", no_args_is_help=True)


@idempotency_app.command()
def purge(ctx: typer.Context) -> None:
    """Delete expired keys (SQL store; Redis expires its own, memory lives per process)."""
    cli: CliContext = ctx.obj
    app = cli.require_app()
    service = idempotency(app)

    async def main() -> int:
        try:
            return await service.store.purge()
        finally:
            await bastion_state(app).db.dispose()

    typer.echo(f"deleted {run_async(main)} expired key(s)")
