"""ETags from versions, ``If-Match`` preconditions, and the 409 of a lost race.

A versioned row's ETag is weak (``W/"3"``): the version names the state of the
resource, not the bytes of one representation. ``If-Match`` is compared on the
version, so ``W/"3"`` and ``"3"`` both match version 3 (RFC 9110 asks for the
strong comparison there; a version number cannot tell two representations of
one state apart, and does not need to).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from sqlalchemy.orm.exc import StaleDataError

from bastion.core.problems import problem_response
from bastion.idempotency.errors import ConflictError, PreconditionFailed, PreconditionRequired

_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def version_of(resource: Any) -> int:
    """The version of a :class:`~bastion.core.db.Versioned` row (or an int itself)."""
    return resource if isinstance(resource, int) else int(resource.version)


def etag(resource: Any) -> str:
    """The weak ETag of a versioned row or of a version number: ``W/"<version>"``."""
    return f'W/"{version_of(resource)}"'


def set_etag(response: Response, resource: Any) -> None:
    """Put the ETag of ``resource`` on ``response``."""
    response.headers["ETag"] = etag(resource)


class Precondition:
    """The ``If-Match`` of a request; ``check(row)`` raises 412 when it does not match."""

    def __init__(self, header: str | None) -> None:
        self.header = header
        self.any = header is not None and header.strip() == "*"
        self.tags = () if header is None or self.any else tuple(_TAG.findall(header))

    def check(self, resource: Any) -> None:
        if self.header is None or self.any:
            return
        if str(version_of(resource)) not in self.tags:
            raise PreconditionFailed(
                f"If-Match {self.header} does not match the current ETag {etag(resource)}.",
                headers={"ETag": etag(resource)},
            )


class IfMatch:
    """Dependency giving the request's :class:`Precondition`.

    >>> from fastapi import APIRouter, Depends
    >>> router = APIRouter()
    >>> @router.delete("/notes/{note_id}", status_code=204)
    ... async def delete_note(note_id: int, precondition: Precondition = Depends(IfMatch())):
    ...     pass

    ``required=True`` answers 428 ``concurrency.precondition_required`` when the
    header is missing (lost updates are then impossible by construction).
    """

    def __init__(self, *, required: bool = False) -> None:
        self.required = required

    async def __call__(
        self,
        if_match: Annotated[
            str | None,
            Header(
                alias="If-Match",
                description='The ETag the change is based on (W/"<version>"); 412 when stale.',
            ),
        ] = None,
    ) -> Precondition:
        if if_match is None and self.required:
            raise PreconditionRequired("This request needs an If-Match header with the ETag.")
        return Precondition(if_match)


IfMatchHeader = Annotated[Precondition, Depends(IfMatch())]
IfMatchRequired = Annotated[Precondition, Depends(IfMatch(required=True))]


async def on_stale_data(request: Request, exc: Exception, *, type_base: str) -> Response:
    """SQLAlchemy's ``StaleDataError`` (a versioned write lost the race) as a 409."""
    error = ConflictError("The resource changed while this request ran; read it and retry.")
    error.__cause__ = exc
    return problem_response(error, type_base=type_base, instance=request.url.path)


__all__ = [
    "IfMatch",
    "IfMatchHeader",
    "IfMatchRequired",
    "Precondition",
    "StaleDataError",
    "etag",
    "on_stale_data",
    "set_etag",
    "version_of",
]
