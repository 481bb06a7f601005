"""Wiring webhooks into an app: the client, the delivery job, the outbox handler,
the sweep, the relay beside the workers, and the management routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.abc import AbstractResolver
from fastapi import FastAPI

from bastion.core.clock import Clock
from bastion.core.errors import ConfigurationError
from bastion.core.http import HttpClient
from bastion.core.state import BastionState, bastion_state
from bastion.jobs.install import jobs_of
from bastion.jobs.registry import Empty
from bastion.ops.http_breakers import HostBreakers
from bastion.ops.metrics import Metrics
from bastion.orgs.roles import ADMIN
from bastion.outbox.relay import Relay
from bastion.security.permissions import extend_role, register_permission
from bastion.tenancy.scoping import tenant_context
from bastion.webhooks.delivery import DELIVER_TASK, Deliverer, DeliverJob
from bastion.webhooks.events import TOPIC, WebhookRegistry
from bastion.webhooks.service import EndpointService
from bastion.webhooks.settings import WebhooksSettings
from bastion.webhooks.ssrf import GuardedResolver, TargetPolicy

SWEEP_TASK = "bastion.webhooks.sweep"
MANAGE = register_permission("webhooks:manage", "Manage webhook endpoints and their secrets").name
extend_role(ADMIN, MANAGE)


@dataclass
class WebhooksFeature:
    """An app's webhooks: its event types, the deliverer and the endpoint service."""

    registry: WebhookRegistry
    deliverer: Deliverer
    service: EndpointService
    clock: Clock

    async def close(self) -> None:
        await self.deliverer.client.close()


def webhook_client(
    settings: WebhooksSettings, policy: TargetPolicy, dns: AbstractResolver | None = None
) -> HttpClient:
    """The outbound client of deliveries: every host name is checked by the policy
    when it is resolved (by ``dns``, aiohttp's default resolver unless given),
    before any connection."""
    return HttpClient(
        timeout=settings.timeout_seconds,
        connect_timeout=settings.connect_timeout_seconds,
        retries=0,
        max_response_bytes=1_048_576,
        resolver=GuardedResolver(policy, dns),
        user_agent="bastion-webhooks",
    )


def install_webhooks(
    app: FastAPI,
    settings: WebhooksSettings,
    state: BastionState,
    registry: WebhookRegistry,
    relay: Relay,
    metrics: Metrics,
) -> WebhooksFeature:
    """Build :class:`WebhooksFeature` into ``state.extensions["webhooks"]``."""
    from bastion.webhooks.router import router

    policy = TargetPolicy(
        allow_private=settings.allow_private_targets,
        allowed=settings.allowed_targets,
        https_only=state.settings.is_production,
    )
    client = webhook_client(settings, policy)
    queue = jobs_of(state)
    breakers = HostBreakers(
        clock=state.clock,
        metrics=metrics,
        open_seconds=settings.breaker_open_seconds,
        minimum_calls=settings.breaker_minimum_calls,
    )
    deliverer = Deliverer(
        state.db,
        client,
        state.extensions["security"].box,
        queue,
        settings,
        policy,
        clock=state.clock,
        breakers=breakers,
        on_disabled=registry.on_disabled,
    )
    service = EndpointService(registry, deliverer, policy, state.extensions["audit"])
    feature = state.extensions["webhooks"] = WebhooksFeature(
        registry, deliverer, service, state.clock
    )

    async def deliver(payload: DeliverJob) -> None:
        with tenant_context(payload.tenant_id):
            await deliverer.deliver(payload.delivery_id)

    async def sweep(payload: Empty) -> None:
        await deliverer.sweep()

    jobs = queue.registry
    jobs.task(DELIVER_TASK, queue=settings.queue, retries=3)(deliver)
    relay.handlers[TOPIC] = deliverer.fan_out
    app.include_router(router)
    in_memory = state.db.dialect == "sqlite" and state.db.url.database in (None, "", ":memory:")
    if in_memory:
        # An in-memory SQLite database is one shared connection: background work
        # (the sweep, a relay) would interleave its transactions with the requests'.
        return feature
    # Events reach the delivery jobs through the outbox relay that runs beside every
    # job worker (see bastion.outbox.install).
    jobs.builtin_cron(SWEEP_TASK, "* * * * *", sweep, retries=1)
    return feature


def webhooks_of(app: Any) -> WebhooksFeature:
    """The app's :class:`WebhooksFeature` (built by ``create_app``)."""
    found = bastion_state(app).extensions.get("webhooks")
    if not isinstance(found, WebhooksFeature):
        raise ConfigurationError("webhooks are not installed: build the app with create_app")
    return found
