"""Who a limit counts: the client IP, the user, the API key, the tenant, or anything.

A key function returns the bucket a request counts against, or ``None`` to leave
the request unlimited. ``by_user``, ``by_api_key`` and ``by_tenant`` read the
principal and tenant from the request context (set by authentication and
tenancy) and fall back to the client IP for anonymous requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from bastion.core.client_ip import ClientIP
from bastion.core.context import principal_var, tenant_id_var

KeyFn = Callable[[Request, ClientIP], "str | None"]


@dataclass(frozen=True)
class Key:
    """A key function with a ``kind`` for metrics labels (``ip``, ``user``, ...)."""

    kind: str
    fn: KeyFn

    def __call__(self, request: Request, client_ip: ClientIP) -> str | None:
        return self.fn(request, client_ip)


def _ip(request: Request, client_ip: ClientIP) -> str:
    return f"ip:{client_ip(request.scope)}"


def _principal_attr(attribute: str, prefix: str) -> KeyFn:
    def key(request: Request, client_ip: ClientIP) -> str:
        value = getattr(principal_var.get(), attribute, None)
        return f"{prefix}:{value}" if value is not None else _ip(request, client_ip)

    return key


def _tenant(request: Request, client_ip: ClientIP) -> str:
    tenant = tenant_id_var.get()
    return f"tenant:{tenant}" if tenant is not None else _ip(request, client_ip)


by_ip = Key("ip", _ip)
by_user = Key("user", _principal_attr("id", "user"))
by_api_key = Key("api_key", _principal_attr("api_key_id", "api_key"))
by_tenant = Key("tenant", _tenant)


def by(kind: str, fn: Callable[[Request], str | None]) -> Key:
    """A custom key: ``by("email", lambda r: r.headers.get("x-email"))``."""
    return Key(kind, lambda request, _client_ip: fn(request))
