"""Parsing limit specs and the headers they produce."""

from __future__ import annotations

import pytest

from bastion.ratelimit import Limit, parse_limit, parse_limits
from bastion.ratelimit.headers import rate_limit_headers
from bastion.ratelimit.store import Decision, LimitState

pytestmark = pytest.mark.ratelimit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100/minute", Limit(100, 60.0, 100)),
        ("10/second;burst=20", Limit(10, 1.0, 20)),
        ("1000 / 15 minutes", Limit(1000, 900.0, 1000)),
        ("5/HOUR", Limit(5, 3600.0, 5)),
        ("2/days; burst = 1", Limit(2, 86400.0, 1)),
        ("2/3 days", Limit(2, 259200.0, 2)),
    ],
)
def test_parse_limit(text, expected):
    assert parse_limit(text) == expected


@pytest.mark.parametrize(
    "bad", ["", "100", "100/fortnight", "0/minute", "x/second", "5/minute;b=2"]
)
def test_bad_limits_are_refused_with_the_syntax(bad):
    with pytest.raises(ValueError, match="100/minute"):
        parse_limit(bad)


def test_several_limits():
    assert parse_limits("10/second;burst=20, 1000/hour") == (
        Limit(10, 1.0, 20),
        Limit(1000, 3600.0, 1000),
    )
    with pytest.raises(ValueError, match="at least one"):
        parse_limits([])


def test_headers_name_each_limit_and_add_retry_after_when_refused():
    states = (
        LimitState(Limit(10, 1.0, 20), 0, 0.4),
        LimitState(Limit(1000, 3600.0, 1000), 950, 180.2),
    )
    headers = dict(rate_limit_headers("search", Decision(False, states, 0.1)))
    assert headers[b"ratelimit-policy"] == b'"search-1";q=10;w=1, "search-2";q=1000;w=3600'
    assert headers[b"ratelimit"] == b'"search-1";r=0;t=1, "search-2";r=950;t=181'
    assert headers[b"retry-after"] == b"1"
