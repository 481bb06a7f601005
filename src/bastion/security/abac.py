"""Attribute-based rules over a principal, a resource and the request.

A :class:`Predicate` answers whether an :class:`Access` is allowed; combine
them with :func:`all_of` and :func:`any_of`. A predicate that *conceals*
(``same_org``) turns a refusal into "not found", so that a caller outside the
resource's organization cannot learn it exists.

>>> import asyncio, uuid
>>> from types import SimpleNamespace
>>> me = SimpleNamespace(id=uuid.UUID(int=1))
>>> doc = SimpleNamespace(owner_id=me.id, org_id=uuid.UUID(int=9))
>>> rule = all_of(same_org(), any_of(owns_resource(), has_permission("doc:admin")))
>>> access = Access(principal=me, resource=doc, org_id=uuid.UUID(int=9))
>>> asyncio.run(rule.decide(access)).allowed
True
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Access",
    "Decision",
    "Predicate",
    "all_of",
    "any_of",
    "has_permission",
    "owns_resource",
    "predicate",
    "same_org",
]


@dataclass(frozen=True)
class Access:
    """Who asks for what: the principal, the loaded resource, the request (its
    attributes: method, headers, client), the current organization and a test
    of the caller's permissions there."""

    principal: Any
    resource: Any
    org_id: uuid.UUID | None = None
    request: Any = None
    can: Callable[[str], bool] = field(default=lambda _permission: False)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str = ""
    conceal: bool = False


Check = Callable[[Access], bool | Awaitable[bool]]


class Predicate:
    """A named rule; ``conceal`` makes its refusal a 404 rather than a 403."""

    def __init__(self, check: Check, name: str, *, conceal: bool = False) -> None:
        self.check = check
        self.name = name
        self.conceal = conceal

    async def decide(self, access: Access) -> Decision:
        outcome = self.check(access)
        allowed = await outcome if inspect.isawaitable(outcome) else outcome
        return Decision(True) if allowed else Decision(False, self.name, self.conceal)


def predicate(name: str, *, conceal: bool = False) -> Callable[[Check], Predicate]:
    """Make a custom rule from a function of :class:`Access` (sync or async)."""

    def wrap(check: Check) -> Predicate:
        return Predicate(check, name, conceal=conceal)

    return wrap


def owns_resource(attribute: str = "owner_id") -> Predicate:
    """The resource's ``attribute`` is the principal's id."""
    return Predicate(
        lambda a: getattr(a.resource, attribute, None) == a.principal.id, "owns_resource"
    )


def same_org(attribute: str = "org_id") -> Predicate:
    """The resource belongs to the current organization (refusal conceals)."""
    return Predicate(
        lambda a: a.org_id is not None and getattr(a.resource, attribute, None) == a.org_id,
        "same_org",
        conceal=True,
    )


def has_permission(permission: str) -> Predicate:
    """The caller holds ``permission`` in the current organization."""
    return Predicate(lambda a: a.can(permission), f"has_permission({permission})")


class _AllOf(Predicate):
    def __init__(self, parts: tuple[Predicate, ...]) -> None:
        super().__init__(lambda _a: True, "all_of")
        self.parts = parts

    async def decide(self, access: Access) -> Decision:
        for part in self.parts:
            decision = await part.decide(access)
            if not decision.allowed:
                return decision
        return Decision(True)


class _AnyOf(Predicate):
    def __init__(self, parts: tuple[Predicate, ...]) -> None:
        super().__init__(lambda _a: False, "any_of")
        self.parts = parts

    async def decide(self, access: Access) -> Decision:
        refusals = []
        for part in self.parts:
            decision = await part.decide(access)
            if decision.allowed:
                return decision
            refusals.append(decision)
        # Conceal only when every alternative would: one visible refusal is enough
        # to show the caller the resource exists.
        conceal = all(d.conceal for d in refusals)
        return Decision(False, " or ".join(d.rule for d in refusals), conceal)


def all_of(*parts: Predicate) -> Predicate:
    """Allowed when every part allows; the first refusal is the answer."""
    return _AllOf(parts)


def any_of(*parts: Predicate) -> Predicate:
    """Allowed when any part allows."""
    return _AnyOf(parts)
