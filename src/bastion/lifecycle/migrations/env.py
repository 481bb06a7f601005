"""Alembic environment: runs on the connection Bastion passes in."""

from __future__ import annotations

from alembic import context

from bastion.lifecycle.migrations import target_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'bastion db', which opens the connection")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
