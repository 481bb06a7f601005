"""The app the operations end-to-end tests serve with ``bastion serve tests.e2e.ops_app:app``.

Settings come from the ``BASTION_*`` environment.

- ``GET /ping``: answers at once.
- ``GET /slow?seconds=``: answers after ``seconds`` (a request in flight).
- ``GET /work?fail=``: a 500 when ``fail`` is true (an outage, for the SLO tests).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException

from bastion import create_app

router = APIRouter()


@router.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


@router.get("/slow")
async def slow(seconds: float) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@router.get("/work")
async def work(fail: bool = False) -> dict[str, bool]:
    if fail:
        raise HTTPException(500, "A synthetic failure.")
    return {"ok": True}


app = create_app(routers=[router])
