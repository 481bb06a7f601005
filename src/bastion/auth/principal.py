"""Who is calling: a user through a session token, or a user's API key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request.

    ``scopes`` is ``None`` for a user's own session (not narrowed) and the key's
    scopes for an API key, which can only narrow what its owner may do.

    >>> p = Principal(id=uuid.UUID(int=1), email="ada@example.com", scopes=frozenset({"a"}),
    ...               api_key_id=uuid.UUID(int=2))
    >>> p.subject, p.has_scopes({"a"}), p.has_scopes({"b"})
    ('api_key:00000000-0000-0000-0000-000000000002', True, False)
    """

    id: uuid.UUID
    email: str
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None
    auth_methods: tuple[str, ...] = ()
    org_id: uuid.UUID | None = None  # the token's active organization, if one was chosen

    @property
    def kind(self) -> str:
        return "api_key" if self.api_key_id is not None else "user"

    @property
    def subject(self) -> str:
        """A stable string naming the caller (``user:<id>``, ``api_key:<id>``)."""
        return f"api_key:{self.api_key_id}" if self.api_key_id else f"user:{self.id}"

    def has_scopes(self, required: set[str] | frozenset[str]) -> bool:
        return self.scopes is None or required <= self.scopes
