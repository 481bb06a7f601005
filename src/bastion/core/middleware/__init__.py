"""The pure-ASGI middleware of the default stack (see ``docs/middleware.md``)."""

from bastion.core.middleware.cors import OriginCORSMiddleware
from bastion.core.middleware.problem import send_problem
from bastion.core.middleware.request_context import (
    RequestContextMiddleware,
    RequestObserver,
    Shedder,
    add_response_headers,
)
from bastion.core.middleware.request_guard import RequestGuardMiddleware, request_limits
from bastion.core.middleware.security_headers import DOCS_CSP, security_headers, with_csp

__all__ = [
    "DOCS_CSP",
    "OriginCORSMiddleware",
    "RequestContextMiddleware",
    "RequestGuardMiddleware",
    "RequestObserver",
    "Shedder",
    "add_response_headers",
    "request_limits",
    "security_headers",
    "send_problem",
    "with_csp",
]
