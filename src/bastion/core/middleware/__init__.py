"""The pure-ASGI middleware of the default stack (see ``docs/middleware.md``)."""

from bastion.core.middleware.problem import UnhandledErrorMiddleware, send_problem
from bastion.core.middleware.request_guard import RequestGuardMiddleware, request_limits
from bastion.core.middleware.request_id import RequestIdMiddleware
from bastion.core.middleware.security_headers import SecurityHeadersMiddleware

__all__ = [
    "RequestGuardMiddleware",
    "RequestIdMiddleware",
    "SecurityHeadersMiddleware",
    "UnhandledErrorMiddleware",
    "request_limits",
    "send_problem",
]
