"""A process that starts a keyed request and is killed while the route runs.

Usage: python -m tests.integration.idempotency.crashing_client SETTINGS_JSON KEY
Prints ``running`` once the route's body has started (it then hangs).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

import httpx

from tests.conftest import make_settings
from tests.integration.idempotency.app import build


async def main(options: dict[str, object], key: str) -> None:
    calls: Counter[str] = Counter()
    app = build(make_settings(**options), calls)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            request = asyncio.create_task(
                client.post("/fragile?mode=hang-first", headers={"Idempotency-Key": key})
            )
            while not calls["fragile"]:
                await asyncio.sleep(0.01)
            print("running", flush=True)
            await request


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))
