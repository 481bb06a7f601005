"""Database: engine, sessions, ``Base`` and column mixins."""

from bastion.core.db.base import NAMING_CONVENTION, Base
from bastion.core.db.engine import Database
from bastion.core.db.mixins import Timestamps, UUIDPrimaryKey, Versioned, utcnow
from bastion.core.db.session import DbSession
from bastion.core.db.types import UTCDateTime

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "Database",
    "DbSession",
    "Timestamps",
    "UTCDateTime",
    "UUIDPrimaryKey",
    "Versioned",
    "utcnow",
]
