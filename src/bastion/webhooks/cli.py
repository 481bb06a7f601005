"""``bastion webhooks``: endpoints, attempts, re-sending a message, checking a signature."""

from __future__ import annotations

import sys
import time
import uuid
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Select, select

from bastion.core.cli import CliContext, fail, run_async, with_database
from bastion.core.db import Database
from bastion.core.state import bastion_state
from bastion.tenancy.rls import apply_tenant
from bastion.tenancy.scoping import bypass_tenancy
from bastion.webhooks.errors import WebhookError
from bastion.webhooks.inbound import verify_webhook
from bastion.webhooks.install import webhooks_of
from bastion.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

T = TypeVar("T")
webhooks_app = typer.Typer(help="Webhook endpoints, attempts and signatures.", no_args_is_help=True)
endpoints_app = typer.Typer(help="Webhook endpoints.", no_args_is_help=True)
webhooks_app.add_typer(endpoints_app, name="endpoints")


async def read_all(db: Database, query: Select[T], reason: str) -> list[T]:
    """Every row of ``query``, of every tenant (past row-level security, on PostgreSQL)."""
    with bypass_tenancy(reason):
        async with db.session() as session:
            await apply_tenant(session)
            return list((await session.scalars(query)).all())


@endpoints_app.command("list")
def list_endpoints(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Only this organization's.")] = None,
) -> None:
    """Every endpoint: id, organization, URL, state, event types and version."""

    async def read(db: Database) -> list[WebhookEndpoint]:
        query = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
        if tenant:
            query = query.where(WebhookEndpoint.tenant_id == uuid.UUID(tenant))
        return await read_all(db, query, "bastion webhooks endpoints list")

    table = Table("id", "tenant", "url", "enabled", "types", "version")
    for e in with_database(ctx.obj, read):
        state = "yes" if e.enabled else f"no ({e.disabled_reason})"
        types = ", ".join(e.event_types)
        table.add_row(str(e.id), str(e.tenant_id), e.url, state, types, str(e.version))
    Console().print(table)


@webhooks_app.command()
def attempts(
    ctx: typer.Context,
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    limit: Annotated[int, typer.Option(help="The latest N attempts.")] = 20,
) -> None:
    """The latest attempts to one endpoint, newest first."""

    async def read(db: Database) -> list[WebhookAttempt]:
        query = (
            select(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id == uuid.UUID(endpoint_id))
            .order_by(WebhookAttempt.id.desc())
            .limit(limit)
        )
        return await read_all(db, query, "bastion webhooks attempts")

    table = Table("time", "message", "status", "ms", "error")
    for a in with_database(ctx.obj, read):
        status = str(a.status_code) if a.status_code is not None else "-"
        table.add_row(
            a.attempted_at.isoformat(), str(a.message_id), status, f"{a.duration_ms:.0f}", a.error
        )
    Console().print(table)


@webhooks_app.command()
def retry(
    ctx: typer.Context, message_id: Annotated[str, typer.Argument(help="The message's id.")]
) -> None:
    """Send a message again to every endpoint it has not reached."""
    cli: CliContext = ctx.obj
    app = cli.require_app()
    feature = webhooks_of(app)

    async def main() -> int:
        state = bastion_state(app)
        try:
            with bypass_tenancy("bastion webhooks retry"):
                async with state.db.session() as session:
                    found = await feature.service.reset(
                        session, WebhookDelivery.message_id == uuid.UUID(message_id)
                    )
            return len(found)
        finally:
            await state.db.dispose()

    count = run_async(main)
    typer.echo(f"requeued {count} deliver{'y' if count == 1 else 'ies'}")


@webhooks_app.command()
def verify(
    secret: Annotated[
        list[str],
        typer.Option(help="A whsec_ secret or whpk_ public key (repeat during a rotation)."),
    ],
    tolerance: Annotated[float, typer.Option(help="Largest timestamp skew, seconds.")] = 300.0,
) -> None:
    """Check the Standard Webhooks signature of a raw HTTP request read on stdin."""
    raw = sys.stdin.buffer.read()
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines()[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    try:
        message_id = verify_webhook(headers, body, secret, tolerance=tolerance, now=time.time())
    except WebhookError as exc:
        fail(f"{exc.code}: {exc}")
    typer.echo(f"valid: message {message_id}")
