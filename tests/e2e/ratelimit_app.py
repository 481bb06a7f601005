"""The app ``test_ratelimit_exactness.py`` runs under uvicorn, several processes at once.

Settings come from the ``BASTION_*`` environment; the route's limit and algorithm
from ``RATELIMIT_TEST_LIMIT`` and ``RATELIMIT_TEST_ALGORITHM``. Served with
``uvicorn --app-dir tests/e2e --factory ratelimit_app:create``.

- ``GET /hit``: the limit under test, counted per client IP (every test client
  is 127.0.0.1, so all processes share one bucket), failing closed so that a
  Redis timeout shows as a 503 instead of a silent pass.
- ``GET /warm``: the same algorithm with a limit nothing reaches, to open each
  process's Redis connections and load the script before the measured burst.
"""

from __future__ import annotations

import os
from typing import cast

from fastapi import APIRouter, Depends, FastAPI

from bastion import create_app
from bastion.ratelimit import RateLimit
from bastion.ratelimit.store import Algorithm


def create() -> FastAPI:
    limit = os.environ["RATELIMIT_TEST_LIMIT"]
    algorithm = cast(Algorithm, os.environ["RATELIMIT_TEST_ALGORITHM"])
    router = APIRouter()

    @router.get(
        "/hit",
        dependencies=[
            Depends(RateLimit(limit, name="exact", algorithm=algorithm, fail_mode="closed"))
        ],
    )
    async def hit() -> dict[str, bool]:
        return {"ok": True}

    @router.get(
        "/warm",
        dependencies=[Depends(RateLimit("1000000/hour", name="warm", algorithm=algorithm))],
    )
    async def warm() -> dict[str, bool]:
        return {"ok": True}

    return create_app(routers=[router], title="ratelimit exactness")
