"""UUIDv7 ids and pagination cursors."""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion import uuid7
from bastion.core.errors import InvalidCursor
from bastion.core.pagination import decode_cursor, encode_cursor

pytestmark = pytest.mark.core


def test_uuid7_layout_and_timestamp():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7_strictly_increasing_within_a_process():
    values = [uuid7() for _ in range(20_000)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


@given(st.uuids())
def test_cursor_round_trips(value):
    assert decode_cursor(encode_cursor(value)) == value


@pytest.mark.parametrize("cursor", ["", "!!!", "AAAA", "x" * 40])
def test_malformed_cursor_is_invalid(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
