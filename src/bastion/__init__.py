"""Bastion: a production-readiness framework for FastAPI services.

>>> from bastion import BastionSettings, create_app
>>> app = create_app(BastionSettings(env="test", database_url="sqlite:///:memory:"))
"""

from bastion.app import create_app
from bastion.core.clock import Clock, ManualClock, SystemClock
from bastion.core.context import current_request_id
from bastion.core.db import Base, Database, DbSession, Timestamps, UTCDateTime, UUIDPrimaryKey
from bastion.core.errors import BastionError, ConfigurationError, registered_codes
from bastion.core.ids import uuid7
from bastion.core.pagination import Page, PageParams, paginate
from bastion.core.state import BastionState, bastion_state
from bastion.settings import BastionSettings

__all__ = [
    "Base",
    "BastionError",
    "BastionSettings",
    "BastionState",
    "Clock",
    "ConfigurationError",
    "Database",
    "DbSession",
    "ManualClock",
    "Page",
    "PageParams",
    "SystemClock",
    "Timestamps",
    "UTCDateTime",
    "UUIDPrimaryKey",
    "bastion_state",
    "create_app",
    "current_request_id",
    "paginate",
    "registered_codes",
    "uuid7",
]
