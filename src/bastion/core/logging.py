"""structlog set-up: console lines in development, JSON lines in production.

The standard library's loggers (uvicorn, SQLAlchemy, alembic) go through the same
renderer, and every line carries the request's context: request id, trace and
span ids, the caller (``principal``) and the tenant.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from bastion.core.context import principal_var, request_id_var, tenant_id_var, trace_ids_var


def _add_request_context(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    # Read from the context at log time: cheaper than binding on every request.
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    trace_ids = trace_ids_var.get()
    if trace_ids is not None:
        event.setdefault("trace_id", trace_ids[0])
        event.setdefault("span_id", trace_ids[1])
    principal = principal_var.get()
    if principal is not None:
        event.setdefault("principal", getattr(principal, "subject", str(principal)))
    tenant = tenant_id_var.get()
    if tenant is not None:
        event.setdefault("tenant", str(tenant))
    return event


def configure_logging(*, level: str = "INFO", json_output: bool = False) -> None:
    """Configure structlog and the root logger; safe to call more than once."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        # No local variables in tracebacks: they hold request headers and secrets.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    final: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json_output:
        final.insert(0, structlog.processors.format_exc_info)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processors=[*final, renderer]
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    handler.set_name("bastion")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "bastion"] + [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not logger.handlers and not logger.propagate:
            # Switched off (uvicorn --no-access-log): uvicorn skips formatting access
            # lines only while the logger has no handler anywhere, so keep it that way.
            continue
        # uvicorn installs its own handlers; let its records reach ours instead.
        logger.handlers = []
        logger.propagate = True
