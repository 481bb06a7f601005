"""Tenant isolation in the ORM: every query on a tenant-scoped model is filtered.

``TenantScoped`` models get a ``tenant_id`` column. Once a database is scoped
(:func:`scope_database`), every ORM SELECT, UPDATE and DELETE touching such a
model gets ``WHERE tenant_id = <current tenant>`` (through
``with_loader_criteria``, so joins, relationships and eager loads are covered),
and every new row gets the current tenant. With no tenant in context the query
raises :class:`TenantRequired` instead of running unfiltered, unless it runs in
an explicit ``bypass_tenancy(reason)`` block (admin tools, jobs, migrations),
which is logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from sqlalchemy import ForeignKey, Uuid
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.util import find_tables

from bastion.core.context import tenant_id_var
from bastion.core.db import Base, Database
from bastion.tenancy.errors import TenantRequired

log = structlog.get_logger("bastion.tenancy")
TENANT_TABLE = "bastion_orgs"
_bypass: ContextVar[str | None] = ContextVar("bastion_tenancy_bypass", default=None)


class TenantScoped:
    """Mixin: the row belongs to one tenant (an organization)."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid,
            ForeignKey(f"{TENANT_TABLE}.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
            sort_order=-5,
        )


def current_tenant() -> uuid.UUID | None:
    """The tenant of the running request or job, if any."""
    tenant = tenant_id_var.get()
    return tenant if isinstance(tenant, uuid.UUID) or tenant is None else uuid.UUID(str(tenant))


@contextmanager
def tenant_context(tenant_id: uuid.UUID) -> Iterator[None]:
    """Run a block as ``tenant_id`` (a job working for one tenant, say)."""
    token = tenant_id_var.set(tenant_id)
    try:
        yield
    finally:
        tenant_id_var.reset(token)


@contextmanager
def bypass_tenancy(reason: str, *, routine: bool = False) -> Iterator[None]:
    """Run a block whose queries see every tenant; ``reason`` is logged (as a warning;
    at debug level when ``routine``: a framework loop that serves every tenant by
    design, such as the webhook fan-out, entered once per batch)."""
    if not reason.strip():
        raise ValueError("bypass_tenancy needs a reason; it is recorded")
    (log.debug if routine else log.warning)(
        "tenancy.bypass", reason=reason, tenant=str(current_tenant())
    )
    token = _bypass.set(reason)
    try:
        yield
    finally:
        _bypass.reset(token)


def bypassed() -> bool:
    return _bypass.get() is not None


_scoped: tuple[int, frozenset[Any]] = (-1, frozenset())


def scoped_tables() -> frozenset[Any]:
    """The tables of every ``TenantScoped`` model mapped so far."""
    global _scoped
    mappers = Base.registry.mappers
    if _scoped[0] != len(mappers):  # models were added since: look again
        tables = frozenset(m.local_table for m in mappers if issubclass(m.class_, TenantScoped))
        _scoped = (len(mappers), tables)
    return _scoped[1]


def _is_scoped(statement: Any) -> bool:
    """Whether any table of ``statement`` (joins and subqueries included) is scoped."""
    scoped = scoped_tables()
    tables = find_tables(statement, include_aliases=True, include_crud=True)
    return any(getattr(table, "element", table) in scoped for table in tables)


def _filter(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # they carry the criteria of the query that loaded the parent
    if bypassed() or not _is_scoped(state.statement):
        return
    tenant = current_tenant()
    if tenant is None:
        raise TenantRequired(
            "A tenant-scoped query ran without a tenant; resolve the tenant first "
            "or wrap the code in bypass_tenancy(reason)."
        )
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant,
            include_aliases=True,
        )
    )


def _stamp(session: Session, _context: Any, _instances: Any) -> None:
    scoped = [obj for obj in session.new if isinstance(obj, TenantScoped)]
    if not scoped:
        return
    tenant = current_tenant()
    for obj in scoped:
        if obj.tenant_id is None:
            if tenant is None:
                raise TenantRequired(f"a new {type(obj).__name__} has no tenant")
            obj.tenant_id = tenant
        elif tenant is not None and obj.tenant_id != tenant and not bypassed():
            raise TenantRequired(f"a new {type(obj).__name__} names another tenant")


def scope_database(db: Database) -> None:
    """Turn tenant filtering on for the sessions of ``db`` (idempotent)."""
    db.on_sessions("do_orm_execute", _filter)
    db.on_sessions("before_flush", _stamp)
