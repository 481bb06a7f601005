"""Signed cookies: read back, refused when altered or old, valid across key rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.requests import Request
from starlette.responses import Response

from bastion import ManualClock
from bastion.auth.cookies import CookieOptions, SignedCookie
from bastion.security import Signer

pytestmark = pytest.mark.security

OLD, NEW = "old-secret-" + "o" * 32, "new-secret-" + "n" * 32


def request_with(cookie: str) -> Request:
    return Request({"type": "http", "headers": [(b"cookie", cookie.encode())]})


def set_cookie(cookie: SignedCookie, value: str) -> str:
    response = Response()
    cookie.set(response, value)
    return response.headers["set-cookie"].split(";")[0]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, tzinfo=UTC))


def make(keys: list[str], clock: ManualClock, salt: str = "flow") -> SignedCookie:
    return SignedCookie("flow", Signer(keys, salt, clock=clock), CookieOptions(), max_age=600)


def test_a_signed_cookie_reads_back(clock):
    cookie = make([NEW], clock)
    assert cookie.read(request_with(set_cookie(cookie, "acme:state"))) == "acme:state"


def test_altered_other_salt_and_old_cookies_read_as_none(clock):
    cookie = make([NEW], clock)
    header = set_cookie(cookie, "acme:state")
    assert cookie.read(request_with(header.replace("acme", "evil"))) is None
    assert make([NEW], clock, salt="other").read(request_with(header)) is None
    assert cookie.read(request_with("")) is None
    clock.advance(seconds=601)
    assert cookie.read(request_with(header)) is None


def test_rotation_keeps_cookies_signed_with_the_previous_key(clock):
    header = set_cookie(make([OLD], clock), "acme:state")
    rotated = make([NEW, OLD], clock)
    assert rotated.read(request_with(header)) == "acme:state"
    assert make([NEW], clock).read(request_with(header)) is None  # once the old key is dropped


def test_attributes(clock):
    response = Response()
    options = CookieOptions(secure=True, domain="example.com")
    SignedCookie("flow", Signer([NEW], "flow", clock=clock), options, max_age=60, path="/a/").set(
        response, "v"
    )
    line = response.headers["set-cookie"].lower()
    for part in (
        "httponly",
        "secure",
        "samesite=lax",
        "path=/a/",
        "max-age=60",
        "domain=example.com",
    ):
        assert part in line
