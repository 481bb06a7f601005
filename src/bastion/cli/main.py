"""The ``bastion`` command: one Typer app, a sub-app per area."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from bastion.core.cli import CliContext, fail, run
from bastion.idempotency.cli import idempotency_app
from bastion.jobs.cli import jobs_app, scheduler, worker
from bastion.lifecycle.cli import db_app
from bastion.ops.cli import ops_app
from bastion.orgs.cli import permissions_app
from bastion.outbox.cli import outbox_app
from bastion.ratelimit.cli import ratelimit_app
from bastion.security.audit.cli import audit_app
from bastion.security.cli import keys_app
from bastion.settings import BastionSettings
from bastion.tenancy.cli import tenants_app
from bastion.webhooks.cli import webhooks_app

app = typer.Typer(
    name="bastion",
    help="Bastion: run, migrate and inspect a Bastion service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(ops_app, name="ops")
app.add_typer(ratelimit_app, name="ratelimit")
app.add_typer(keys_app, name="keys")
app.add_typer(outbox_app, name="outbox")
app.add_typer(idempotency_app, name="idempotency")
app.add_typer(jobs_app, name="jobs")
app.command()(worker)
app.command()(scheduler)
app.add_typer(audit_app, name="audit")
app.add_typer(permissions_app, name="permissions")
app.add_typer(tenants_app, name="tenants")
app.add_typer(webhooks_app, name="webhooks")
openapi_app = typer.Typer(help="The OpenAPI document.", no_args_is_help=True)
app.add_typer(openapi_app, name="openapi")

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
AppOption = Annotated[
    str | None,
    typer.Option("--app", envvar="BASTION_APP", help="The app as 'package.module:app'."),
]


@app.callback()
def main_callback(ctx: typer.Context, app_path: AppOption = None) -> None:
    ctx.obj = CliContext(app_path)


@app.command()
def serve(
    ctx: typer.Context,
    app_path: Annotated[
        str | None, typer.Argument(help="The app as 'package.module:app'; default --app.")
    ] = None,
    host: Annotated[str, typer.Option(envvar="HOST", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(envvar="WORKERS", min=1, help="Processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the app with uvicorn."""
    import uvicorn

    path = app_path or ctx.obj.app_path
    if not path:
        fail("give the app to serve: bastion serve package.module:app (or BASTION_APP)")
    # Build it once here so that bad settings stop us with one clear line.
    cli = CliContext(path)
    run(lambda: cli.app)
    settings = cli.settings
    grace = settings.shutdown.grace_seconds if isinstance(settings, BastionSettings) else None
    with contextlib.ExitStack() as cleanup:
        if workers > 1 and not reload and not os.environ.get(MULTIPROC_VARIABLE):
            # Workers are spawned, so they import prometheus_client after this is set
            # and keep their metrics in files that /metrics merges.
            directory = tempfile.TemporaryDirectory(prefix="bastion-metrics-")
            os.environ[MULTIPROC_VARIABLE] = cleanup.enter_context(directory)
        uvicorn.run(
            path,
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            log_config=None,
            proxy_headers=False,
            server_header=False,
            # After SIGTERM (and the app's drain), how long requests in flight may finish.
            timeout_graceful_shutdown=math.ceil(grace) if grace else None,
        )


@openapi_app.command("export")
def openapi_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
) -> None:
    """Write the app's OpenAPI document as JSON."""
    document = run(lambda: ctx.obj.require_app().openapi())
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}")


def main() -> None:
    app()
