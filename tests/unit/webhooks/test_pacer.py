"""The per-endpoint pacer: slots ``1 / rate`` apart, taken only by those who wait."""

from __future__ import annotations

import uuid

import pytest

from bastion.webhooks.attempt import Pacer

pytestmark = pytest.mark.webhooks


def test_slots_are_spaced_and_deferring_takes_none():
    now = [100.0]
    pacer = Pacer(10.0, monotonic=lambda: now[0])  # a slot every 0.1 s
    endpoint, other = uuid.uuid4(), uuid.uuid4()
    assert [pacer.reserve(endpoint, 0.25) for _ in range(3)] == pytest.approx([0, 0.1, 0.2])
    # The next slot is 0.3 s away: over 0.25, so it is not taken...
    assert pacer.reserve(endpoint, 0.25) == pytest.approx(0.3)
    assert pacer.reserve(endpoint, 0.25) == pytest.approx(0.3)  # ...and stays free
    assert pacer.reserve(other, 0.25) == 0  # endpoints are paced apart
    now[0] += 1.0  # time passed: free slots again, none owed
    assert pacer.reserve(endpoint, 0.0) == 0
    assert pacer.reserve(endpoint, 0.0) == pytest.approx(0.1)


def test_forgets_idle_endpoints_past_its_size():
    now = [0.0]
    pacer = Pacer(1.0, max_endpoints=2, monotonic=lambda: now[0])
    for _ in range(3):
        pacer.reserve(uuid.uuid4(), 1.0)
    now[0] += 5
    pacer.reserve(uuid.uuid4(), 1.0)
    assert len(pacer.slots) == 1  # the idle ones were dropped
