"""``bastion ratelimit``: look at and clear the counters of one key."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bastion.core.cli import CliContext, fail, run_async
from bastion.ratelimit.deps import rate_limiter
from bastion.ratelimit.limits import parse_limits
from bastion.ratelimit.store import Algorithm, RateLimitStore
from bastion.ratelimit.stores import MemoryRateLimitStore

ratelimit_app = typer.Typer(help="Rate limit counters (Redis backend).", no_args_is_help=True)
KeyArg = Annotated[
    str, typer.Argument(help="The full key, as the policy counts it: 'default:ip:203.0.113.9'.")
]


def _store(ctx: typer.Context) -> RateLimitStore:
    store = rate_limiter(ctx.obj.require_app()).store
    if isinstance(store, MemoryRateLimitStore):
        fail(
            "the app keeps rate limits in memory, inside each server process; "
            "set BASTION_REDIS_URL to share (and inspect) them"
        )
    return store


@ratelimit_app.command()
def inspect(
    ctx: typer.Context,
    key: KeyArg,
    limit: Annotated[
        str | None, typer.Option(help="Limits to read against; default: the app's default.")
    ] = None,
    algorithm: Annotated[str, typer.Option(help="gcra or sliding_window.")] = "gcra",
) -> None:
    """Show what KEY has left, without consuming anything."""
    cli: CliContext = ctx.obj
    spec = limit or cli.require_app().state.bastion.settings.ratelimit.default
    if not spec:
        fail("the app has no default limit: pass --limit '100/minute'")
    if algorithm not in ("gcra", "sliding_window"):
        fail("--algorithm must be gcra or sliding_window")
    store = _store(ctx)
    chosen: Algorithm = "gcra" if algorithm == "gcra" else "sliding_window"
    decision = run_async(lambda: store.peek(key, parse_limits(spec), chosen))
    table = Table("limit", "remaining", "full again in (s)")
    for state in decision.states:
        table.add_row(str(state.limit), str(state.remaining), f"{state.reset_after:.1f}")
    Console().print(table)
    typer.echo("allowed" if decision.allowed else f"limited: retry in {decision.retry_after:.1f}s")


@ratelimit_app.command()
def reset(ctx: typer.Context, key: KeyArg) -> None:
    """Forget every counter of KEY (lift a limit early)."""
    store = _store(ctx)
    removed = run_async(lambda: store.reset(key))
    typer.echo(f"removed {removed} counter(s) of {key}")
