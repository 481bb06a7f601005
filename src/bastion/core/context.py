"""Per-request context: request id, principal and tenant.

Values live in ``contextvars`` so they follow the request through ``await``s and
into tasks it spawns; logging binds them into every line.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("bastion_request_id", default=None)
# (trace id, span id) of the request's server span, in hex, while tracing is on.
trace_ids_var: ContextVar[tuple[str, str] | None] = ContextVar("bastion_trace_ids", default=None)
principal_var: ContextVar[Any | None] = ContextVar("bastion_principal", default=None)
tenant_id_var: ContextVar[Any | None] = ContextVar("bastion_tenant_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled, or ``None`` outside a request."""
    return request_id_var.get()
