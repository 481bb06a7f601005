"""Random tokens, their stored hashes and constant-time comparison."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.security.tokens import hash_token, new_token, tokens_equal

pytestmark = pytest.mark.security


def test_tokens_are_url_safe_prefixed_and_unique() -> None:
    tokens = {new_token(prefix="bk_live_") for _ in range(1000)}
    assert len(tokens) == 1000
    for token in tokens:
        assert re.fullmatch(r"bk_live_[A-Za-z0-9_-]{43}", token)
    assert len(new_token(48)) == 64


def test_short_tokens_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        new_token(8)


@given(st.text())
def test_hash_token_is_sha256_hex_and_stable(token: str) -> None:
    digest = hash_token(token)
    assert digest == hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


@given(st.text(), st.text())
def test_distinct_tokens_hash_apart_and_compare_unequal(a: str, b: str) -> None:
    assert tokens_equal(a, b) == (a == b)
    assert (hash_token(a) == hash_token(b)) == (a == b)
