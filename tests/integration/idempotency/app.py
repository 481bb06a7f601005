"""A small app whose routes count how often their bodies run."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bastion import BastionSettings, Clock, DbSession, create_app
from bastion.core.context import principal_var
from bastion.core.db import utcnow
from bastion.idempotency import Idempotent, IdempotentRoute
from bastion.outbox import InboxEntry


class ItemIn(BaseModel):
    name: str


@dataclass(frozen=True)
class Principal:
    subject: str


async def user(x_user: Annotated[str | None, Header()] = None) -> None:
    """Stands in for authentication: sets the principal before Idempotent runs."""
    if x_user is not None:
        principal_var.set(Principal(f"user:{x_user}"))


def build(settings: BastionSettings, calls: Counter[str], clock: Clock | None = None) -> FastAPI:
    router = APIRouter(route_class=IdempotentRoute)
    keyed = [Depends(user), Depends(Idempotent())]

    @router.post("/items", status_code=201, dependencies=keyed)
    async def create_item(item: ItemIn, response: Response) -> dict[str, object]:
        calls["items"] += 1
        await asyncio.sleep(0.05)  # keeps concurrent duplicates overlapping
        response.headers["Location"] = f"/items/{calls['items']}"
        return {"number": calls["items"], "name": item.name}

    @router.put("/items/{number}", dependencies=keyed)
    async def replace_item(number: int, item: ItemIn) -> dict[str, object]:
        calls["put"] += 1
        return {"number": number, "name": item.name}

    @router.post("/required", dependencies=[Depends(Idempotent(required=True))])
    async def required() -> dict[str, int]:
        calls["required"] += 1
        return {"call": calls["required"]}

    @router.post("/short", dependencies=[Depends(Idempotent(ttl=1))])
    async def short() -> dict[str, int]:
        calls["short"] += 1
        return {"call": calls["short"]}

    @router.post("/fragile", dependencies=[Depends(Idempotent())])
    async def fragile(mode: str) -> JSONResponse:
        calls["fragile"] += 1
        if mode == "raise":
            raise RuntimeError("the handler failed")
        if mode == "503":
            return JSONResponse({"call": calls["fragile"]}, status_code=503)
        if mode == "hang-first" and calls["fragile"] == 1:
            await asyncio.sleep(3600)
        return JSONResponse({"call": calls["fragile"]}, status_code=200)

    @router.post("/conflicting", dependencies=[Depends(Idempotent())])
    async def conflicting(session: DbSession) -> dict[str, int]:
        """Adds an inbox entry that already exists: the commit, after the route, fails."""
        calls["conflicting"] += 1
        session.add(InboxEntry(source="test", message_id="taken", processed_at=utcnow()))
        return {"call": calls["conflicting"]}

    return create_app(settings, routers=[router], clock=clock)
