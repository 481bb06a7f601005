"""Start-up checks: messages with stable ids and a hint, like ``core.E001``.

Errors stop start-up; warnings are logged. A check that only matters in
production is an error there and a warning elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bastion.core.errors import ConfigurationError


@dataclass(frozen=True)
class CheckMessage:
    """One finding of a start-up check."""

    id: str
    level: Literal["error", "warning"]
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.id}: {self.message} Hint: {self.hint}"


def raise_for_errors(messages: Iterable[CheckMessage]) -> list[CheckMessage]:
    """Raise :class:`ConfigurationError` naming every error; return the warnings."""
    messages = list(messages)
    errors = [m for m in messages if m.level == "error"]
    if errors:
        raise ConfigurationError("; ".join(str(m) for m in errors))
    return messages
