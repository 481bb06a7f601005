"""Tracing through the real app with an in-memory exporter: traceparent in and out, the
trace and span ids in the logs, SQL and outgoing HTTP calls in the same trace; Bastion's
server spans are the spans the SDK's ``start_span`` would make."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import pytest
import structlog
from fastapi import APIRouter, HTTPException
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    DEFAULT_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, StatusCode
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from sqlalchemy import text

from bastion import DbSession, create_app
from bastion.ops.tracing import (
    NO_PARENT,
    OwnAttributes,
    ServerSpan,
    ServerSpans,
    lean_spans_possible,
)
from tests.conftest import ClientFactory, make_settings

pytestmark = [pytest.mark.ops]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
log = structlog.get_logger("tests.tracing")


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    """One in-memory exporter on the process's provider (a process has one provider)."""
    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return memory


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[int, list[dict[str, str]]]]:
    """A plain HTTP server on 127.0.0.1 that records the headers of each request."""
    seen: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[1:]
        seen.append({k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head if h)})
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()


def traced_app(sqlite_url: str, port: int = 0):  # type: ignore[no-untyped-def]
    router = APIRouter()

    @router.get("/orders/{order_id}")
    async def order(order_id: int, session: DbSession) -> dict[str, int]:
        log.info("order.read", order_id=order_id)
        await session.execute(text("SELECT 1"))
        return {"id": order_id}

    @router.get("/call/{client}")
    async def call(client: str) -> dict[str, str]:
        url = f"http://127.0.0.1:{port}/"
        if client == "httpx":
            async with httpx.AsyncClient(trust_env=False) as http:
                await http.get(url)
        else:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                await response.read()
        return {"called": client}

    @router.get("/boom")
    async def boom() -> None:
        raise HTTPException(503, "down")

    @router.get("/annotated")
    async def annotated() -> dict[str, str]:
        span = trace.get_current_span()
        span.set_attribute("app.customer", "acme")
        span.add_event("cache.miss", {"key": "k1"})
        try:
            raise ValueError("retried")
        except ValueError as exc:
            span.record_exception(exc)
        return {"ok": "yes"}

    settings = make_settings(sqlite_url, tracing={"enabled": True, "service_name": "orders"})
    return create_app(settings, routers=[router])


def by_kind(spans: InMemorySpanExporter, kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans.get_finished_spans() if span.kind is kind]


async def test_incoming_traceparent_continues_the_trace_in_spans_response_and_logs(
    sqlite_url: str,
    client_for: ClientFactory,
    spans: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await client_for(traced_app(sqlite_url))
    spans.clear()
    with caplog.at_level(logging.INFO, logger="tests.tracing"):
        response = await client.get("/orders/7", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200

    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.name == "GET /orders/{order_id}"
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT_ID
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/orders/{order_id}"
    assert server.attributes["http.response.status_code"] == 200

    # The response names this server span, in the same trace.
    version, trace_id, span_id, _flags = response.headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", TRACE_ID, f"{server.context.span_id:016x}")

    # The SQL ran in a child span of the request.
    sql = [s for s in by_kind(spans, SpanKind.CLIENT) if "SELECT" in s.name]
    assert sql and all(s.context.trace_id == server.context.trace_id for s in sql)
    assert all(s.parent is not None and s.parent.span_id == server.context.span_id for s in sql)

    # The log line of the route carries both ids.
    (record,) = [
        r for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "order.read"
    ]
    assert record.msg["trace_id"] == TRACE_ID
    assert record.msg["span_id"] == f"{server.context.span_id:016x}"


async def test_without_traceparent_a_new_trace_starts(
    sqlite_url: str, client_for: ClientFactory, spans: InMemorySpanExporter
) -> None:
    client = await client_for(traced_app(sqlite_url))
    first = (await client.get("/orders/1")).headers["traceparent"].split("-")[1]
    second = (await client.get("/orders/2")).headers["traceparent"].split("-")[1]
    assert first != second and TRACE_ID not in (first, second)
    assert len(by_kind(spans, SpanKind.SERVER)) == 2


async def test_the_trace_state_of_the_request_is_kept(
    sqlite_url: str, client_for: ClientFactory, spans: InMemorySpanExporter
) -> None:
    client = await client_for(traced_app(sqlite_url))
    headers = {"traceparent": TRACEPARENT, "tracestate": "vendor=abc,other=1"}
    response = await client.get("/orders/3", headers=headers)
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert dict(server.context.trace_state) == {"vendor": "abc", "other": "1"}
    assert response.headers["traceparent"].split("-")[1] == TRACE_ID


async def test_server_errors_mark_the_span(
    sqlite_url: str, client_for: ClientFactory, spans: InMemorySpanExporter
) -> None:
    client = await client_for(traced_app(sqlite_url))
    assert (await client.get("/boom")).status_code == 503
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("library", ["httpx", "aiohttp"])
async def test_outgoing_calls_carry_the_trace(
    library: str,
    sqlite_url: str,
    client_for: ClientFactory,
    spans: InMemorySpanExporter,
    echo_server: tuple[int, list[dict[str, str]]],
) -> None:
    port, seen = echo_server
    client = await client_for(traced_app(sqlite_url, port))
    response = await client.get(f"/call/{library}", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    (headers,) = seen
    assert headers["traceparent"].split("-")[1] == TRACE_ID
    (outgoing,) = [s for s in by_kind(spans, SpanKind.CLIENT) if s.name.startswith("GET")]
    assert headers["traceparent"].split("-")[2] == f"{outgoing.context.span_id:016x}"


@pytest.mark.redis
async def test_redis_commands_are_spans_of_the_request(
    sqlite_url: str, redis_url: str, client_for: ClientFactory, spans: InMemorySpanExporter
) -> None:
    settings = make_settings(sqlite_url, redis_url=redis_url, tracing={"enabled": True})
    client = await client_for(create_app(settings))
    spans.clear()
    await asyncio.sleep(1.1)  # past the readiness cache
    await client.get("/readyz", headers={"traceparent": TRACEPARENT})
    redis_spans = [s for s in by_kind(spans, SpanKind.CLIENT) if s.name == "PING"]
    assert redis_spans and redis_spans[0].context.trace_id == int(TRACE_ID, 16)


def test_off_by_default_loads_no_tracing() -> None:
    # (FastAPI itself imports the OpenTelemetry API when it is installed.)
    code = (
        "import sys\n"
        "from bastion import BastionSettings, create_app\n"
        "create_app(BastionSettings(env='test', database_url='sqlite+aiosqlite:///:memory:'))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('bastion.ops.tracing',"
        " 'opentelemetry.sdk', 'opentelemetry.instrumentation'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


async def test_off_no_traceparent_is_sent(sqlite_url: str, client_for: ClientFactory) -> None:
    client = await client_for(create_app(make_settings(sqlite_url)))
    response = await client.get("/livez", headers={"traceparent": TRACEPARENT})
    assert "traceparent" not in response.headers


async def test_code_in_the_request_adds_to_its_server_span(
    sqlite_url: str, client_for: ClientFactory, spans: InMemorySpanExporter
) -> None:
    client = await client_for(traced_app(sqlite_url))
    assert (await client.get("/annotated")).status_code == 200
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert server.attributes is not None
    assert server.attributes["app.customer"] == "acme"
    assert server.attributes["http.route"] == "/annotated"
    assert server.attributes["http.response.status_code"] == 200
    assert [event.name for event in server.events] == ["cache.miss", "exception"]
    assert server.events[1].attributes is not None
    assert server.events[1].attributes["exception.message"] == "retried"


# --- ServerSpans against the SDK's own start_span -------------------------------------------


class TaggingSampler(Sampler):
    """Samples every trace, adding an attribute and a trace state entry."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: object = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE,
            {**(attributes or {}), "sampler.tag": "x" * 40},
            TraceState([("tagger", "1")]),
        )

    def get_description(self) -> str:
        return "TaggingSampler"


ATTRIBUTES = {
    "http.request.method": "GET",
    "http.route": "/orders/{order_id}",
    "url.path": "/orders/7",
    "url.scheme": "http",
}
PARENTS = {
    "root": {},
    "sampled parent": {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"},
    "unsampled parent": {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"},
}


def both_ways(provider: TracerProvider, headers: dict[str, str]) -> tuple[trace.Span, trace.Span]:
    """The same server span made by the SDK's start_span and by ServerSpans, both ended."""
    tracer = provider.get_tracer("bastion")
    parent = propagate.extract(headers) if headers else NO_PARENT
    sdk = tracer.start_span("GET /orders/{order_id}", parent, SpanKind.SERVER, dict(ATTRIBUTES))
    sdk.set_attribute("http.response.status_code", 200)
    sdk.end()
    assert isinstance(tracer, Tracer)
    ours = ServerSpans(tracer).start("GET /orders/{order_id}", parent, OwnAttributes(ATTRIBUTES))
    if isinstance(ours, ServerSpan):
        ours.set_own_attribute("http.response.status_code", 200)
    else:
        assert not ours.is_recording()
    ours.end()
    return sdk, ours


def exported_view(span: ReadableSpan) -> dict[str, object]:
    """What an exporter reads of a span, but for the span id and times."""
    assert span.context is not None
    return {
        "name": span.name,
        "kind": span.kind,
        "parent": span.parent,
        "trace_id": span.context.trace_id if span.parent else None,
        "flags": span.context.trace_flags,
        "trace_state": span.context.trace_state,
        "attributes": dict(span.attributes or {}),
        "dropped_attributes": span.dropped_attributes,
        "events": span.events,
        "links": span.links,
        "status": span.status.status_code,
        "resource": span.resource,
        "scope": span.instrumentation_scope,
    }


@pytest.mark.parametrize("parent", PARENTS)
@pytest.mark.parametrize(
    ("sampler", "limits"),
    [
        (DEFAULT_ON, None),
        (ParentBased(TraceIdRatioBased(1.0)), None),
        (TaggingSampler(), None),
        (DEFAULT_ON, SpanLimits(max_span_attribute_length=8)),
        (ALWAYS_OFF, None),
    ],
    ids=["default", "ratio", "tagging", "value limit", "off"],
)
def test_server_spans_are_the_sdks(
    parent: str, sampler: Sampler, limits: SpanLimits | None
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    sdk, ours = both_ways(provider, PARENTS[parent])
    assert ours.is_recording() is False and sdk.is_recording() is False
    sdk_ids, our_ids = sdk.get_span_context(), ours.get_span_context()
    assert (our_ids.trace_flags, our_ids.trace_state) == (sdk_ids.trace_flags, sdk_ids.trace_state)
    assert our_ids.is_valid and our_ids.span_id != sdk_ids.span_id
    exported = memory.get_finished_spans()
    if not sdk_ids.trace_flags.sampled:
        assert exported == ()
        return
    sdk_span, our_span = exported
    assert exported_view(our_span) == exported_view(sdk_span)
    if limits is not None:
        assert dict(our_span.attributes or {})["http.route"] == "/orders/"


def test_server_spans_take_the_sdks_limits_once_code_adds_to_them() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=6, max_events=1))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bastion")
    assert isinstance(tracer, Tracer)
    span = ServerSpans(tracer).start("GET /", NO_PARENT, OwnAttributes(ATTRIBUTES))
    assert isinstance(span, ServerSpan)
    span.set_attributes({"a": 1, "b": 2})  # the oldest attribute goes, as in any SDK span
    span.add_event("first")
    span.add_event("second")
    span.add_link(trace.INVALID_SPAN_CONTEXT)  # invalid: dropped by the SDK's check
    span.add_link(trace.SpanContext(int(TRACE_ID, 16), int(PARENT_ID, 16), is_remote=True))
    span.set_own_attribute("http.response.status_code", 200)
    span.end()
    span.set_attribute("late", True)  # refused after the end
    (exported,) = memory.get_finished_spans()
    assert list(exported.attributes or {}) == [
        "http.route",
        "url.path",
        "url.scheme",
        "a",
        "b",
        "http.response.status_code",
    ]
    assert exported.dropped_attributes == 1
    assert [event.name for event in exported.events] == ["second"]
    assert exported.dropped_events == 1
    assert [link.context.span_id for link in exported.links] == [int(PARENT_ID, 16)]
    assert isinstance(exported.links[0], Link)


def test_the_sdks_spans_where_it_counts_spans_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = TracerProvider().get_tracer("bastion")
    assert lean_spans_possible(tracer)
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    assert not lean_spans_possible(tracer)
    assert not lean_spans_possible(trace.NoOpTracer())
