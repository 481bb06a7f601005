"""SSRF refusals: checked when an endpoint is saved and at delivery, in the resolver,
before any connection (a connection attempt fails the test)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp.abc import AbstractResolver

from bastion.core.http import UpstreamUnavailable
from bastion.ops.breaker import CircuitBreaker
from bastion.webhooks.attempt import post
from bastion.webhooks.install import webhook_client
from bastion.webhooks.settings import WebhooksSettings
from bastion.webhooks.ssrf import RefusedAddress, TargetPolicy, refused_cause

pytestmark = [pytest.mark.webhooks]


@pytest.fixture
async def no_connections(monkeypatch):
    """Any TCP connection attempt from the event loop fails the test."""
    loop = asyncio.get_running_loop()

    async def refuse(*args, **kwargs):
        pytest.fail(f"a connection was attempted: {args[1:3]}")

    monkeypatch.setattr(loop, "create_connection", refuse)


class FakeDns(AbstractResolver):
    """Answers every name with ``address``; counts the questions."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.asked: list[str] = []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.asked.append(host)
        if self.address is None:
            pytest.fail(f"the resolver was asked for {host}")
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:10.0.0.1]/hook",
        "ftp://example.com/hook",
    ],
)
async def test_refused_urls_never_connect(url, no_connections):
    policy = TargetPolicy()
    dns = FakeDns(None)
    client = webhook_client(WebhooksSettings(), policy, dns)
    outcome = await post(
        client,
        policy,
        CircuitBreaker("t"),
        url=url,
        message_id="m",
        body=b"{}",
        secrets=["whsec_" + "A" * 43 + "="],
        timestamp=0,
        excerpt_bytes=10,
        now=None,  # type: ignore[arg-type]
    )
    await client.close()
    assert outcome.succeeded is False
    assert outcome.error is not None and outcome.error.startswith("refused")
    assert dns.asked == []


@pytest.mark.parametrize("address", ["10.0.0.7", "192.168.1.1", "169.254.169.254", "127.0.0.1"])
async def test_a_name_resolving_to_a_private_address_is_refused(address, no_connections):
    policy = TargetPolicy()
    dns = FakeDns(address)
    client = webhook_client(WebhooksSettings(), policy, dns)
    with pytest.raises(UpstreamUnavailable) as raised:
        await client.post("http://hooks.customer.example/in", data=b"{}", retries=0)
    await client.close()
    assert dns.asked == ["hooks.customer.example"]
    assert isinstance(refused_cause(raised.value), RefusedAddress)


def test_policy_allowances():
    assert TargetPolicy(allow_private=True).refusal("10.0.0.1") is None
    allowed = TargetPolicy(allowed=["10.1.2.0/24", "hooks.internal"])
    assert allowed.refusal("10.1.2.9") is None
    assert allowed.refusal("10.1.3.9") == "10.1.3.9 is a private address"
    assert allowed.refusal("10.9.9.9", "hooks.internal") is None
    assert TargetPolicy().refusal("93.184.215.14") is None


async def test_endpoints_refused_when_saved(webhook_app):
    client, _ = await webhook_app(webhooks={"allow_private_targets": False})
    for url in (
        "http://127.0.0.1/h",
        "http://10.0.0.1/h",
        "http://169.254.169.254/h",
        "file:///etc",
    ):
        answer = await client.post(
            "/webhooks/endpoints", json={"url": url, "event_types": ["task.created"]}
        )
        assert answer.status_code == 422, url
        assert answer.json()["code"] == "webhook.target_refused"
