"""The hash chain: what an event's hash covers, and the walk that checks a chain.

``hash = SHA-256(canonical JSON of the event's fields, prev_hash among them)``;
the first event of a chain follows :data:`GENESIS`. Changing any field of any
event, deleting one, or reordering them breaks the walk at the first event
concerned.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from bastion.security.audit.models import AuditEvent
from bastion.security.canonical import canonical_json

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


def chain_of(org_id: uuid.UUID | None) -> str:
    """The chain an organization's events go to (``system`` for the rest)."""
    return SYSTEM_CHAIN if org_id is None else f"org:{org_id}"


def event_hash(event: AuditEvent) -> str:
    """The hash ``event`` must carry, given its fields and ``prev_hash``."""
    fields: dict[str, Any] = {
        "id": str(event.id),
        "chain": event.chain,
        "seq": event.seq,
        "org_id": None if event.org_id is None else str(event.org_id),
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "ip": event.ip,
        "request_id": event.request_id,
        "data": json.loads(event.data),
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(fields)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain stops checking out, and why."""

    chain: str
    seq: int
    event_id: uuid.UUID | None
    reason: str

    def __str__(self) -> str:
        where = f"event {self.event_id} (seq {self.seq})" if self.event_id else f"seq {self.seq}"
        return f"chain {self.chain}: {where}: {self.reason}"


class ChainWalk:
    """Checks a chain's events fed in ``seq`` order; ``end`` checks its head."""

    def __init__(self, chain: str) -> None:
        self.chain = chain
        self.seq = 0
        self.hash = GENESIS
        self.broken: ChainBreak | None = None

    def feed(self, events: Iterable[AuditEvent]) -> ChainBreak | None:
        for event in events:
            self.broken = self._check(event)
            if self.broken is not None:
                return self.broken
            self.seq, self.hash = event.seq, event.hash
        return None

    def _check(self, event: AuditEvent) -> ChainBreak | None:
        def broken(reason: str) -> ChainBreak:
            return ChainBreak(self.chain, event.seq, event.id, reason)

        if event.seq != self.seq + 1:
            return broken(f"expected seq {self.seq + 1}: an event is missing or moved")
        if event.prev_hash != self.hash:
            return broken("prev_hash is not the previous event's hash")
        if event_hash(event) != event.hash:
            return broken("hash does not match the event's fields: it was altered")
        return None

    def end(self, head_seq: int | None, head_hash: str | None) -> ChainBreak | None:
        """Compare the last event walked with the chain's recorded head."""
        if self.broken is not None:
            return self.broken
        if head_seq is None:
            if self.seq == 0:
                return None
            return ChainBreak(self.chain, self.seq, None, "the chain has no recorded head")
        if (head_seq, head_hash) != (self.seq, self.hash):
            return ChainBreak(
                self.chain,
                self.seq,
                None,
                f"the chain ends at seq {self.seq} but its head is seq {head_seq}: "
                "events were deleted or altered at the end",
            )
        return None
