"""Time-ordered identifiers (UUIDv7, RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_last_seq = 0


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7: 48-bit Unix milliseconds, then random bits.

    Within one process the values are strictly increasing: a 12-bit counter in
    ``rand_a`` orders ids made in the same millisecond (RFC 9562, method 1).

    >>> a, b = uuid7(), uuid7()
    >>> a < b and a.version == 7
    True
    """
    global _last_ms, _last_seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _last_seq = ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            # Same millisecond (or a clock step back): keep the last timestamp and count.
            _last_seq += 1
            if _last_seq > 0xFFF:
                _last_ms, _last_seq = _last_ms + 1, 0
            ms = _last_ms
        seq = _last_seq
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)
