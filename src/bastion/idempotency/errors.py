"""Problem codes of idempotency keys and optimistic locking."""

from __future__ import annotations

from bastion.core.errors import BastionError


class IdempotencyError(BastionError):
    """Root of the errors about ``Idempotency-Key``."""


class KeyInProgress(IdempotencyError):
    code = "idempotency.in_progress"
    status = 409
    title = "Request with this key in progress"


class KeyReused(IdempotencyError):
    code = "idempotency.key_reused"
    status = 422
    title = "Idempotency key reused with another request"


class KeyRequired(IdempotencyError):
    code = "idempotency.key_required"
    status = 400
    title = "Idempotency key required"


class KeyInvalid(IdempotencyError):
    code = "idempotency.key_invalid"
    status = 400
    title = "Invalid idempotency key"


class ConcurrencyError(BastionError):
    """Root of the optimistic locking errors."""


class PreconditionFailed(ConcurrencyError):
    code = "concurrency.precondition_failed"
    status = 412
    title = "Precondition failed"


class PreconditionRequired(ConcurrencyError):
    code = "concurrency.precondition_required"
    status = 428
    title = "Precondition required"


class ConflictError(ConcurrencyError):
    """A write lost the race: the row changed since it was read (``update_versioned``,
    or SQLAlchemy's ``StaleDataError`` in a request)."""

    code = "conflict.stale_version"
    status = 409
    title = "Stale version"
