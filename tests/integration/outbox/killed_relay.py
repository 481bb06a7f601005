"""A relay process for the crash test: it records what it handles, then hangs mid-batch.

Usage: python -m tests.integration.outbox.killed_relay DATABASE_URL OUTPUT_FILE HANDLE_COUNT
"""

from __future__ import annotations

import asyncio
import sys

from bastion import Database
from bastion.outbox import Message, OutboxSettings, Relay


async def main(url: str, output: str, limit: int) -> None:
    db = Database(url)
    handled = 0
    with open(output, "a", buffering=1) as record:

        async def handle(message: Message) -> None:
            nonlocal handled
            handled += 1
            if handled > limit:
                await asyncio.sleep(3600)  # killed here, mid-batch
            record.write(f"{message.payload}\n")

        await Relay(db, {"m": handle}, OutboxSettings(batch_size=50, lease_seconds=1)).run(
            asyncio.Event()
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
