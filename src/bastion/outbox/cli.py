"""``bastion outbox``: run a relay, look at the backlog, purge old rows."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from bastion.core.cli import CliContext, run_async
from bastion.outbox.install import outbox_relay
from bastion.outbox.relay import Relay

outbox_app = typer.Typer(help="Transactional outbox: relay, status, purge.", no_args_is_help=True)


def _relay(ctx: typer.Context) -> Relay:
    cli: CliContext = ctx.obj
    return outbox_relay(cli.require_app())


@outbox_app.command()
def relay(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="Relay one batch and exit.")] = False,
) -> None:
    """Deliver outbox messages to the app's handlers until SIGINT/SIGTERM."""
    target = _relay(ctx)

    async def main() -> int:
        try:
            if once:
                return await target.run_once()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await target.run(stop)
            return 0
        finally:
            await target.db.dispose()

    claimed = run_async(main)
    if once:
        typer.echo(f"relayed a batch of {claimed} message(s)")


@outbox_app.command()
def status(ctx: typer.Context) -> None:
    """Pending and dead messages, and the age of the oldest pending one."""
    target = _relay(ctx)

    async def main() -> str:
        try:
            backlog = await target.store.backlog()
        finally:
            await target.db.dispose()
        return (
            f"pending: {backlog.pending}\ndead: {backlog.dead}\n"
            f"oldest pending: {backlog.oldest_pending_age:.1f}s"
        )

    typer.echo(run_async(main))


@outbox_app.command()
def purge(ctx: typer.Context) -> None:
    """Delete sent messages and inbox entries older than BASTION_OUTBOX__RETENTION_SECONDS."""
    target = _relay(ctx)

    async def main() -> tuple[int, int]:
        try:
            return await target.store.purge(target.settings.retention_seconds)
        finally:
            await target.db.dispose()

    sent, seen = run_async(main)
    typer.echo(f"deleted {sent} sent message(s) and {seen} inbox entr{'y' if seen == 1 else 'ies'}")
