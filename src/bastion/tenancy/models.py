"""Tables of multi-tenancy: per-tenant quota overrides."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bastion.core.db import Base, Timestamps
from bastion.tenancy.scoping import TENANT_TABLE


class TenantQuota(Timestamps, Base):
    """One limit of one tenant's plan (``projects``: 50), overriding the default."""

    __tablename__ = "bastion_tenant_quotas"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(f"{TENANT_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)
