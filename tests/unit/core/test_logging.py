"""Log lines carry the request's context: request id, principal and tenant."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
import structlog

from bastion.core.context import principal_var, request_id_var, tenant_id_var
from bastion.core.logging import configure_logging

pytestmark = pytest.mark.core


@dataclass(frozen=True)
class Caller:
    subject: str


def test_json_lines_carry_the_request_context(capsys):
    configure_logging(level="INFO", json_output=True)
    tenant = uuid.uuid4()
    tokens = (
        request_id_var.set("req-1"),
        principal_var.set(Caller("user:42")),
        tenant_id_var.set(tenant),
    )
    try:
        structlog.get_logger("test").info("something.happened", n=1)
    finally:
        request_id_var.reset(tokens[0])
        principal_var.reset(tokens[1])
        tenant_id_var.reset(tokens[2])
    structlog.get_logger("test").info("outside")
    captured = capsys.readouterr()
    output = (captured.out + captured.err).splitlines()
    lines = [json.loads(line) for line in output if line.startswith("{")]
    inside, outside = lines[-2], lines[-1]
    assert (inside["request_id"], inside["principal"], inside["tenant"]) == (
        "req-1",
        "user:42",
        str(tenant),
    )
    assert not {"request_id", "principal", "tenant"} & set(outside)
