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

Every request pays for its span, so it is made with less work than the SDK's
``Tracer.start_span`` does, yet stays an SDK span that the configured span
processors get (see :class:`ServerSpan`).

Off, nothing here is imported and requests pay nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import structlog
from opentelemetry import context, propagate, trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, Tracer, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import DEFAULT_ON, Decision
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue
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


STATUS_CODE = "http.response.status_code"
# Trace Context level 2's flag for a random trace id (OpenTelemetry API 1.3x; 0 before it).
RANDOM_TRACE_ID = int(getattr(TraceFlags, "RANDOM_TRACE_ID", 0))
StartSpan = Callable[..., trace.Span]  # (name, parent context, attributes=...)


class OwnAttributes(dict[str, AttributeValue]):
    """A server span's attributes while only Bastion has set them: strings and an int,
    which the SDK's value checks would pass unchanged. (``Span.end`` marks a span's
    attributes immutable: hence the slot.)"""

    __slots__ = ("_immutable",)


class ServerSpan(Span):
    """The server span of a request: an SDK span, with less set-up than ``Tracer.start_span``.

    The SDK gives every span, as it starts, bounded containers for its attributes, events
    and links, each with its own lock, and checks every attribute value. Most request spans
    never get an event or a link, and Bastion's attributes need no check: they stay a plain
    dict until other code adds an attribute, event or link to the span, which then takes
    the SDK's containers and from there on behaves as any SDK span. Span processors get the
    SDK's ``ReadableSpan`` of it at the end, as from any span.

    ``__init__`` sets what ``Span.__init__`` sets (what is the same for every server span,
    at class level); :func:`lean_spans_possible` checks that against the installed SDK.
    """

    _kind = SpanKind.SERVER
    _trace_config = None
    _record_exception = True
    _set_status_on_exception = True
    _record_end_metrics = None
    _status = Status(StatusCode.UNSET)
    _start_time: int | None = None
    _end_time: int | None = None
    _events: Any = ()
    _links: Any = ()

    def __init__(  # Span.__init__ is not called: its set-up is what this class saves.
        self,
        name: str,
        ids: SpanContext,
        parent: SpanContext | None,
        attributes: OwnAttributes,
        tracer: Tracer,
    ) -> None:
        self._name = name
        self._context = ids
        self._parent = parent
        self._attributes = attributes
        self._lock = threading.Lock()
        self._sampler = tracer.sampler
        self._resource = tracer.resource
        self._span_processor = tracer.span_processor
        self._limits = tracer._span_limits
        self._instrumentation_info = tracer.instrumentation_info
        self._instrumentation_scope = tracer._instrumentation_scope

    def _take_sdk_containers(self) -> None:
        """Hold attributes, events and links as the SDK does (once; not after the end,
        when the SDK's methods refuse changes anyway)."""
        with self._lock:
            if isinstance(self._attributes, OwnAttributes) and self._end_time is None:
                limits = self._limits
                self._attributes = BoundedAttributes(
                    limits.max_span_attributes,
                    self._attributes,
                    immutable=False,
                    max_value_len=limits.max_span_attribute_length,
                )
                self._events = BoundedList(limits.max_events)
                self._links = BoundedList(limits.max_links)

    def set_own_attribute(self, key: str, value: str | int) -> None:
        """Set one of Bastion's attributes (valid by construction)."""
        with self._lock:
            attributes = self._attributes
            if isinstance(attributes, OwnAttributes) and self._end_time is None:
                attributes[key] = value
                return
        self.set_attribute(key, value)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._take_sdk_containers()
        super().set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        self._take_sdk_containers()
        super().set_attributes(attributes)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        self._take_sdk_containers()  # record_exception comes here too
        super().add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Any = None) -> None:
        self._take_sdk_containers()
        super().add_link(context, attributes)


def lean_spans_possible(tracer: trace.Tracer) -> bool:
    """Whether :class:`ServerSpans` can make this tracer's spans: an SDK tracer, the SDK's
    internal metrics off (``start_span`` counts spans for them), and a :class:`ServerSpan`
    with every field the installed SDK's ``Span.__init__`` sets."""
    if not isinstance(tracer, Tracer):
        return False
    internal_metrics = os.environ.get("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "")
    if internal_metrics.strip().lower() == "true":
        return False
    reference = object.__new__(ServerSpan)
    Span.__init__(reference, "probe", trace.INVALID_SPAN_CONTEXT, resource=tracer.resource)
    probe = ServerSpan("probe", trace.INVALID_SPAN_CONTEXT, None, OwnAttributes(), tracer)
    return all(hasattr(probe, name) for name in vars(reference))


class ServerSpans:
    """Starts request spans, deciding as the SDK's ``Tracer.start_span`` does: the trace id
    from the parent or the id generator, the sampler's decision, attributes and trace state,
    the same trace flags; a recorded span is a :class:`ServerSpan`."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.ids = tracer.id_generator
        self.sampler = tracer.sampler
        limits = tracer._span_limits
        # Bastion's five attributes pass these limits unchanged: no checks needed.
        self.attributes_fit = limits.max_span_attribute_length is None and (
            limits.max_span_attributes is None or limits.max_span_attributes >= 5
        )
        # The tracer configurator (SDK 1.3x) may turn the tracer off at any time.
        self.enabled: Callable[[], bool] = getattr(tracer, "_is_enabled", lambda: True)
        is_random = getattr(self.ids, "is_trace_id_random", None)
        self.root_random = RANDOM_TRACE_ID if is_random is not None and is_random() else 0
        self.flags = {bits: TraceFlags(bits) for bits in range(4)}

    def start(self, name: str, parent: context.Context, attributes: OwnAttributes) -> trace.Span:
        if not self.enabled():
            return self.tracer.start_span(name, parent, SpanKind.SERVER, attributes)
        parent_ids = (
            None if parent is NO_PARENT else trace.get_current_span(parent).get_span_context()
        )
        if parent_ids is not None and parent_ids.is_valid:
            trace_id = parent_ids.trace_id
            random = parent_ids.trace_flags & RANDOM_TRACE_ID
        else:
            parent_ids = None
            trace_id = self.ids.generate_trace_id()
            random = self.root_random
        own: Mapping[str, AttributeValue] = attributes
        if self.sampler is DEFAULT_ON:
            # The SDK's default sampler (parentbased_always_on) by its rule, without its calls:
            # a root span or the child of a sampled parent is sampled, with the parent's state.
            sampled = recording = parent_ids is None or parent_ids.trace_flags.sampled
            trace_state = None if parent_ids is None else parent_ids.trace_state
        else:
            decided = self.sampler.should_sample(
                parent, trace_id, name, SpanKind.SERVER, attributes, ()
            )
            sampled = decided.decision is Decision.RECORD_AND_SAMPLE
            recording = decided.decision is not Decision.DROP
            trace_state = decided.trace_state
            if decided.attributes != attributes:
                own = decided.attributes  # the sampler's own: they take the SDK's checks
        flags = self.flags[int(sampled) | random]
        ids = SpanContext(trace_id, self.ids.generate_span_id(), False, flags, trace_state)
        if not recording:
            return trace.NonRecordingSpan(ids)
        span = ServerSpan(name, ids, parent_ids, attributes, self.tracer)
        if own is not attributes or not self.attributes_fit:
            span._attributes = OwnAttributes(own)
            span._take_sdk_containers()  # checked against the limits, as start_span would
        span.start(parent_context=parent)
        return span


class TracingObserver:
    """Starts the server span of each request and ends it with the final status.

    Chained with ``inner`` (the metrics observer, unless metrics are off), which it
    calls first. Per request it does only what the span needs: the propagators run
    only when the request carries one of their headers, the span is a
    :class:`ServerSpan`, and the ids are formatted once, for the response's
    ``traceparent`` and the logs.
    """

    def __init__(
        self, provider: TracerProvider, routes: RouteIndex, inner: RequestObserver | None
    ) -> None:
        tracer = provider.get_tracer("bastion")
        self.start_span: StartSpan
        if isinstance(tracer, Tracer) and lean_spans_possible(tracer):
            self.start_span = ServerSpans(tracer).start
        else:
            log.info("tracing.sdk_spans", reason="tracer or span unknown to Bastion")
            self.start_span = partial(tracer.start_span, kind=SpanKind.SERVER)
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
        attributes = OwnAttributes(
            {
                "http.request.method": method,
                "http.route": route,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            }
        )
        span = self.start_span(f"{method} {route}", parent, attributes=attributes)
        attached = context.attach(trace.set_span_in_context(span, parent))
        ids = span.get_span_context()
        # The response names the server span (W3C trace context, whatever propagates inward).
        traceparent = f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"
        logged = trace_ids_var.set((traceparent[3:35], traceparent[36:52]))  # for log lines
        add_response_headers(scope, [(b"traceparent", traceparent.encode())])
        return inner, span, attached, logged

    def end(self, token: Any, status: int) -> None:
        inner, span, attached, logged = token
        if isinstance(span, ServerSpan):
            span.set_own_attribute(STATUS_CODE, status)
        else:
            span.set_attribute(STATUS_CODE, status)
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
