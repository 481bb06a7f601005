"""Multi-tenancy: tenant-scoped tables filtered in the ORM and by PostgreSQL
row-level security, quotas, and tenant export/import. See ``docs/tenancy.md``."""

from bastion.tenancy.deps import require_quota
from bastion.tenancy.errors import QuotaExceeded, TenancyError, TenantRequired
from bastion.tenancy.install import Tenancy, tenancy_of
from bastion.tenancy.rls import disable_tenant_rls, enable_tenant_rls
from bastion.tenancy.scoping import (
    TenantScoped,
    bypass_tenancy,
    current_tenant,
    scope_database,
    tenant_context,
)
from bastion.tenancy.settings import TenancySettings

__all__ = [
    "QuotaExceeded",
    "Tenancy",
    "TenancyError",
    "TenancySettings",
    "TenantRequired",
    "TenantScoped",
    "bypass_tenancy",
    "current_tenant",
    "disable_tenant_rls",
    "enable_tenant_rls",
    "require_quota",
    "scope_database",
    "tenancy_of",
    "tenant_context",
]
