"""OpenTelemetry tracing (extra ``otel``), on with ``BASTION_TRACING__ENABLED=true``.

A server span per request, started by the request-context middleware's
observer (no extra middleware layer): its parent comes from the request's
``traceparent``, and the response carries the span's own ``traceparent``.
While the request runs, ``trace_id`` and ``span_id`` are in every log line.
SQLAlchemy (the app's engine), redis-py, httpx and aiohttp clients are
instrumented too, so their spans join the request's trace and outgoing calls
carry ``traceparent``.

Where spans go is chosen by the standard variables: ``OTEL_TRACES_EXPORTER``
(``otlp``, the default, over HTTP/protobuf to ``OTEL_EXPORTER_OTLP_ENDPOINT``;
``console``; ``none``), ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_PROPAGATORS``. A process that set up its own
SDK ``TracerProvider`` first (``opentelemetry-instrument``, a test) keeps it.

Off, nothing here is imported and requests pay nothing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import Scope

from bastion.core.context import trace_ids_var
from bastion.core.errors import ConfigurationError
from bastion.core.middleware import RequestObserver, add_response_headers
from bastion.core.routes import RouteIndex
from bastion.core.state import BastionState

log = structlog.get_logger("bastion.ops.tracing")
CLIENTS: tuple[Callable[[], BaseInstrumentor], ...] = (
    RedisInstrumentor,
    HTTPXClientInstrumentor,
    AioHttpClientInstrumentor,
)


# The parent of a request that carries no trace context: none, the span is a root.
NO_PARENT = context.Context()


def _propagation_headers(scope: Scope, fields: frozenset[bytes]) -> dict[str, str]:
    """The request's headers that the propagators read (the first of repeated ones)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in fields:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


def _exporter() -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER`` names (``none``: spans are made, not sent)."""
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        protocol = os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        )
        if protocol != "http/protobuf":
            raise ConfigurationError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported; "
                "use http/protobuf (port 4318 of a collector)"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ConfigurationError(
        f"OTEL_TRACES_EXPORTER={name} is not supported; use otlp, console or none"
    )


def tracer_provider(service_name: str) -> TracerProvider:
    """The process's SDK provider: the one already set globally, or a new one from OTEL_*."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    exporter = _exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


class TracingObserver:
    """Starts the server span of each request and ends it with the final status.

    Chained with ``inner`` (the metrics observer, unless metrics are off), which it
    calls first. Per request it does only what the span needs: the propagators run
    only when the request carries one of their headers, the attributes go into
    ``start_span`` at once, and the ids are formatted once, for the response's
    ``traceparent`` and the logs.
    """

    def __init__(
        self, provider: TracerProvider, routes: RouteIndex, inner: RequestObserver | None
    ) -> None:
        self.tracer = provider.get_tracer("bastion")
        self.routes = routes
        self.inner = inner
        # Read once: the propagators (OTEL_PROPAGATORS) are set before apps are built.
        self.fields = frozenset(f.lower().encode() for f in propagate.get_global_textmap().fields)

    def begin(self, scope: Scope) -> Any:
        inner = self.inner.begin(scope) if self.inner is not None else None
        method = scope["method"]
        route = self.routes.lookup(scope).template
        carrier = _propagation_headers(scope, self.fields)
        parent = propagate.extract(carrier) if carrier else NO_PARENT
        span = self.tracer.start_span(
            f"{method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "http.route": route,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        )
        attached = context.attach(trace.set_span_in_context(span, parent))
        ids = span.get_span_context()
        # The response names the server span (W3C trace context, whatever propagates inward).
        traceparent = f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"
        logged = trace_ids_var.set((traceparent[3:35], traceparent[36:52]))  # for log lines
        add_response_headers(scope, [(b"traceparent", traceparent.encode())])
        return inner, span, attached, logged

    def end(self, token: Any, status: int) -> None:
        inner, span, attached, logged = token
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(StatusCode.ERROR)
        span.end()
        trace_ids_var.reset(logged)
        context.detach(attached)
        if self.inner is not None:
            self.inner.end(inner, status)


class Tracing:
    """The tracing of one app: the observer for the middleware, the instrumented clients."""

    def __init__(self, state: BastionState, service_name: str) -> None:
        self.state = state
        self.provider = tracer_provider(service_name)

    def observer(self, inner: RequestObserver | None) -> TracingObserver:
        return TracingObserver(self.provider, self.state.routes, inner)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Instrument the database engine and the client libraries while the app runs."""
        started: list[BaseInstrumentor] = []
        database = SQLAlchemyInstrumentor()
        # The engine instrumentation hooks SQLAlchemy's stable event API: newer SQLAlchemy
        # versions than the instrumentation declares work with it.
        options = {"engine": self.state.db.engine.sync_engine, "skip_dep_check": True}
        for instrumentor, extra in [(factory(), {}) for factory in CLIENTS] + [(database, options)]:
            if instrumentor.is_instrumented_by_opentelemetry:
                continue  # another app of this process did; it stays in charge
            instrumentor.instrument(tracer_provider=self.provider, **extra)
            if instrumentor.is_instrumented_by_opentelemetry:
                started.append(instrumentor)
        log.info("tracing.started", instrumented=[type(i).__name__ for i in started])
        try:
            yield
        finally:
            for instrumentor in started:
                instrumentor.uninstrument()
            self.provider.force_flush()
