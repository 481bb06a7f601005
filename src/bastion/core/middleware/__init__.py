"""The pure-ASGI middleware of the default stack (see ``docs/middleware.md``)."""

from bastion.core.middleware.body_limit import BodySizeLimitMiddleware
from bastion.core.middleware.problem import UnhandledErrorMiddleware, send_problem
from bastion.core.middleware.request_id import RequestIdMiddleware
from bastion.core.middleware.security_headers import SecurityHeadersMiddleware

__all__ = [
    "BodySizeLimitMiddleware",
    "RequestIdMiddleware",
    "SecurityHeadersMiddleware",
    "UnhandledErrorMiddleware",
    "send_problem",
]
