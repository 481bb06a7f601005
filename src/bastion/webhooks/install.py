"""Wiring webhooks into an app: the client, the outbox handler (fan-out), the
dispatcher beside every job worker, and the management routes."""

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
from bastion.ops.http_breakers import HostBreakers
from bastion.ops.metrics import Metrics
from bastion.orgs.roles import ADMIN
from bastion.outbox.relay import Relay
from bastion.security.permissions import extend_role, register_permission
from bastion.webhooks.delivery import Deliverer
from bastion.webhooks.dispatcher import Dispatcher
from bastion.webhooks.events import TOPIC, WebhookRegistry
from bastion.webhooks.service import EndpointService
from bastion.webhooks.settings import WebhooksSettings
from bastion.webhooks.ssrf import GuardedResolver, TargetPolicy

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
        settings,
        policy,
        clock=state.clock,
        breakers=breakers,
        metrics=metrics,
        on_disabled=registry.on_disabled,
    )
    service = EndpointService(registry, deliverer, policy, state.extensions["audit"])
    feature = state.extensions["webhooks"] = WebhooksFeature(
        registry, deliverer, service, state.clock
    )

    relay.batch_handlers[TOPIC] = deliverer.fan_out
    app.include_router(router)
    in_memory = state.db.dialect == "sqlite" and state.db.url.database in (None, "", ":memory:")
    if in_memory:
        # An in-memory SQLite database is one shared connection: a dispatcher would
        # interleave its transactions with the requests'.
        return feature

    # Events reach the fan-out through the outbox relay that runs beside every job
    # worker too (see bastion.outbox.install).
    jobs_of(state).registry.loop_companion(
        "bastion.webhooks.dispatcher", lambda stop: Dispatcher(deliverer).run(stop)
    )
    return feature


def webhooks_of(app: Any) -> WebhooksFeature:
    """The app's :class:`WebhooksFeature` (built by ``create_app``)."""
    found = bastion_state(app).extensions.get("webhooks")
    if not isinstance(found, WebhooksFeature):
        raise ConfigurationError("webhooks are not installed: build the app with create_app")
    return found
