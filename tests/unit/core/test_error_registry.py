"""The registry of problem codes: stable, unique, one meaning per code."""

from __future__ import annotations

import pytest

from bastion import BastionError, registered_codes
from bastion.core.errors import ErrorCode, http_code, register_code

pytestmark = pytest.mark.core


def test_subclass_with_code_registers_it():
    class Archived(BastionError):
        code = "test.archived"
        status = 409
        title = "Archived"

    assert registered_codes()["test.archived"] == ErrorCode("test.archived", 409, "Archived")


def test_same_code_with_another_meaning_is_refused():
    with pytest.raises(ValueError, match="already registered"):

        class Clash(BastionError):
            code = "http.not_found"
            status = 410
            title = "Something else"


def test_registering_the_same_meaning_twice_is_harmless():
    entry = registered_codes()["http.not_found"]
    assert register_code(entry.code, entry.status, entry.title) == entry


def test_http_statuses_map_to_codes():
    assert http_code(404).code == "http.not_found"
    assert http_code(418).code == "http.error"
    assert http_code(500).code == "server.internal_error"
    assert http_code(503).code == "server.unavailable"
    assert http_code(502).code == "http.error"


def test_codes_are_dotted_lowercase():
    for code in registered_codes():
        area, _, name = code.partition(".")
        assert area and name, code
        assert code == code.lower() and " " not in code, code
