"""Problem codes of multi-tenancy.

TenancyError
├── TenantMissing        400 the route needs a tenant and the request names none
├── TenantNotFound       404 no such tenant, or the caller is not a member
├── QuotaExceeded        403 the tenant's plan allows no more of something
└── TenantRequired       500 a tenant-scoped query ran with no tenant (fail closed)
"""

from __future__ import annotations

from bastion.core.errors import BastionError


class TenancyError(BastionError):
    """Root of multi-tenancy errors."""


class QuotaExceeded(TenancyError):
    code = "tenancy.quota_exceeded"
    status = 403
    title = "Quota exceeded"


class TenantRequired(TenancyError):
    """A programming error: a tenant-scoped query outside any tenant and outside
    ``bypass_tenancy()``. It is refused rather than run unfiltered."""

    code = "tenancy.tenant_required"
    status = 500
    title = "Tenant-scoped query without a tenant"
