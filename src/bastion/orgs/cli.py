"""``bastion permissions list``: the declared permissions and the roles granting them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

import bastion.orgs.roles  # noqa: F401 (declares the framework's permissions and roles)
from bastion.core.cli import CliContext
from bastion.security.permissions import grants, registered_permissions, registered_roles

permissions_app = typer.Typer(help="Permissions and roles.", no_args_is_help=True)


@permissions_app.command("list")
def list_permissions(ctx: typer.Context) -> None:
    """Every declared permission (the app's too, with --app) and which roles grant it."""
    cli: CliContext = ctx.obj
    _ = cli.app  # importing the app declares its permissions and roles
    roles = registered_roles()
    table = Table("permission", "description", "roles")
    for name, permission in registered_permissions().items():
        holders = ", ".join(role for role, patterns in roles.items() if grants(patterns, name))
        table.add_row(name, permission.description, holders)
    Console(width=200).print(table)
