"""Outgoing email: one ``Mailer`` hook every feature sends through.

Until a real transport is configured, :class:`RecordingMailer` keeps the last
messages in memory (tests read them) and logs each one, so that in development
a verification or reset link can be read from the server's log.

>>> import asyncio
>>> mailer = RecordingMailer()
>>> asyncio.run(mailer.send(EmailMessage("ada@example.com", "Hello", "Hi Ada", kind="demo")))
>>> mailer.last(to="ada@example.com").subject
'Hello'
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import structlog

log = structlog.get_logger("bastion.mail")


@dataclass(frozen=True)
class EmailMessage:
    """One email: who to, subject, plain-text body; ``kind`` names its purpose
    (``auth.verify_email``) and ``data`` holds the values it was built from."""

    to: str
    subject: str
    body: str
    kind: str = "generic"
    data: dict[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    """Sends email. Implementations must not raise for a bad address: they log."""

    async def send(self, message: EmailMessage) -> None: ...


async def send_email(
    mailer: Mailer, to: str, kind: str, subject: str, body: str, **data: str
) -> None:
    """Send one plain-text email of ``kind`` through ``mailer``."""
    await mailer.send(EmailMessage(to, subject, body, kind=kind, data=data))


class RecordingMailer:
    """Keeps the last ``capacity`` messages and logs each (with its body in
    development, where links must be readable; without it otherwise)."""

    def __init__(self, capacity: int = 1000, *, log_body: bool = True) -> None:
        self.messages: deque[EmailMessage] = deque(maxlen=capacity)
        self.log_body = log_body

    async def send(self, message: EmailMessage) -> None:
        self.messages.append(message)
        log.info(
            "mail.recorded",
            to=message.to,
            kind=message.kind,
            subject=message.subject,
            body=message.body if self.log_body else None,
        )

    def last(self, *, to: str | None = None, kind: str | None = None) -> EmailMessage:
        """The newest message matching ``to`` and ``kind``; ``LookupError`` if none."""
        for message in reversed(self.messages):
            if (to is None or message.to == to) and (kind is None or message.kind == kind):
                return message
        raise LookupError(f"no message to={to!r} kind={kind!r}")
