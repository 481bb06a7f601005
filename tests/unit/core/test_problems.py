"""Every error is RFC 9457 problem+json: routing errors, validation, Bastion errors, crashes."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from bastion import BastionError, create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.core


class Payment(BaseModel):
    amount: int
    currency: str


class QuotaExceeded(BastionError):
    code = "test.quota_exceeded"
    status = 403
    title = "Quota exceeded"


router = APIRouter()


@router.post("/payments")
async def pay(body: Payment) -> dict[str, int]:
    return {"amount": body.amount}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@router.get("/quota")
async def quota() -> None:
    raise QuotaExceeded("3 of 3 projects used.", headers={"X-Quota": "3"}, limit=3)


@router.get("/teapot")
async def teapot() -> None:
    raise HTTPException(418, "short and stout")


@router.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@pytest.fixture
async def client(client_for, sqlite_url):
    app = create_app(make_settings(sqlite_url, http={"max_body_bytes": 64}), routers=[router])
    return await client_for(app, migrate=False)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:bastion:problem:{code}"
    assert {"title", "detail", "instance"} <= body.keys()
    return body


async def test_unknown_path_is_a_404_problem(client):
    body = assert_problem(await client.get("/nope"), 404, "http.not_found")
    assert body["instance"] == "/nope"


async def test_wrong_method_is_a_405_problem(client):
    response = await client.delete("/payments")
    assert_problem(response, 405, "http.method_not_allowed")
    assert "POST" in response.headers["allow"]


async def test_validation_errors_list_each_field(client):
    response = await client.post("/payments", json={"amount": "lots"})
    body = assert_problem(response, 422, "request.validation_failed")
    by_location = {tuple(e["location"]): e for e in body["errors"]}
    assert set(by_location) == {("body", "amount"), ("body", "currency")}
    assert by_location[("body", "currency")]["type"] == "missing"
    assert all(e["message"] for e in body["errors"])


async def test_malformed_json_is_a_422_problem(client):
    response = await client.post(
        "/payments", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "request.validation_failed")


async def test_bastion_error_keeps_detail_headers_and_extensions(client):
    response = await client.get("/quota")
    body = assert_problem(response, 403, "test.quota_exceeded")
    assert body["detail"] == "3 of 3 projects used."
    assert body["limit"] == 3
    assert response.headers["x-quota"] == "3"


async def test_http_exception_with_unregistered_status(client):
    body = assert_problem(await client.get("/teapot"), 418, "http.error")
    assert body["detail"] == "short and stout"
    assert body["title"] == "I'm a Teapot"


async def test_crash_is_a_500_problem_without_internals(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = await client.get("/boom", headers={"X-Request-ID": "req-42"})
    body = assert_problem(response, 500, "server.internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] == "req-42"
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["x-content-type-options"] == "nosniff"
    logged = [r for r in caplog.records if "request.unhandled_error" in r.getMessage()]
    assert logged, "the crash must be logged"


async def test_body_over_limit_by_content_length_is_413(client):
    response = await client.post("/echo", content=b"x" * 65)
    body = assert_problem(response, 413, "request.body_too_large")
    assert "64" in body["detail"]


async def test_streamed_body_over_limit_is_413(client):
    async def chunks():
        for _ in range(10):
            yield b"x" * 16

    response = await client.post("/echo", content=chunks())
    assert_problem(response, 413, "request.body_too_large")


async def test_streamed_body_over_limit_into_a_model_is_413(client):
    async def chunks():
        yield b'{"amount": 1, "currency": "'
        yield b"x" * 100
        yield b'"}'

    response = await client.post(
        "/payments", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "request.body_too_large")


async def test_body_at_limit_passes(client):
    response = await client.post("/echo", content=b"x" * 64)
    assert response.status_code == 200
    assert response.json() == {"size": 64}


async def test_openapi_describes_422_as_a_problem(client):
    document = (await client.get("/openapi.json")).json()
    response = document["paths"]["/payments"]["post"]["responses"]["422"]
    schema = response["content"]["application/problem+json"]["schema"]
    assert "errors" in schema["properties"]
    assert "HTTPValidationError" not in document.get("components", {}).get("schemas", {})
