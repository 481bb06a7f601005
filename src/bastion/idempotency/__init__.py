"""Idempotency keys and optimistic locking.

>>> from fastapi import APIRouter, Depends
>>> from bastion.idempotency import Idempotent, IdempotentRoute
>>> router = APIRouter(route_class=IdempotentRoute)
>>> @router.post("/payments", status_code=201, dependencies=[Depends(Idempotent(required=True))])
... async def pay() -> dict[str, str]:
...     return {"status": "paid"}
"""

from bastion.idempotency.deps import REPLAYED_HEADER, Idempotent, IdempotentRoute, idempotency
from bastion.idempotency.errors import (
    ConcurrencyError,
    ConflictError,
    IdempotencyError,
    KeyInProgress,
    KeyInvalid,
    KeyRequired,
    KeyReused,
    PreconditionFailed,
    PreconditionRequired,
)
from bastion.idempotency.etag import (
    IfMatch,
    IfMatchHeader,
    IfMatchRequired,
    Precondition,
    etag,
    set_etag,
)
from bastion.idempotency.service import Idempotency
from bastion.idempotency.settings import IdempotencySettings
from bastion.idempotency.store import Claim, IdempotencyStore, StoredResponse
from bastion.idempotency.stores import (
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    SqlIdempotencyStore,
)
from bastion.idempotency.versioning import update_versioned

__all__ = [
    "REPLAYED_HEADER",
    "Claim",
    "ConcurrencyError",
    "ConflictError",
    "Idempotency",
    "IdempotencyError",
    "IdempotencySettings",
    "IdempotencyStore",
    "Idempotent",
    "IdempotentRoute",
    "IfMatch",
    "IfMatchHeader",
    "IfMatchRequired",
    "KeyInProgress",
    "KeyInvalid",
    "KeyRequired",
    "KeyReused",
    "MemoryIdempotencyStore",
    "Precondition",
    "PreconditionFailed",
    "PreconditionRequired",
    "RedisIdempotencyStore",
    "SqlIdempotencyStore",
    "StoredResponse",
    "etag",
    "idempotency",
    "set_etag",
    "update_versioned",
]
