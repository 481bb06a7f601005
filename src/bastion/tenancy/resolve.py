"""Which tenant a request names: path ``org_id``, header, token claim, subdomain.

Only the *claim* is found here; whether the caller may act in that tenant
(membership) is decided by the organizations feature, which answers 404 to a
non-member so that the tenant's existence is not revealed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from starlette.requests import Request


def requested_tenant(
    request: Request,
    *,
    sources: Sequence[str],
    header: str,
    token_org: uuid.UUID | None,
    subdomain_base: str | None,
) -> uuid.UUID | None:
    """The tenant named by the first source that names one; ``None`` if none does.
    ``ValueError`` for a malformed id (callers answer it like an unknown one)."""
    for source in sources:
        raw: object = None
        if source == "path":
            raw = request.path_params.get("org_id")
        elif source == "header":
            raw = request.headers.get(header)
        elif source == "token":
            raw = token_org
        elif source == "subdomain" and subdomain_base:
            raw = _subdomain(request.headers.get("host", ""), subdomain_base)
        if raw:
            return _parse(raw)
    return None


def _subdomain(host: str, base: str) -> str | None:
    name = host.rsplit(":", 1)[0].lower().rstrip(".")
    suffix = "." + base.lower().strip(".")
    if name.endswith(suffix):
        label = name[: -len(suffix)]
        return label if label and "." not in label else None
    return None


def _parse(raw: object) -> uuid.UUID:
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
