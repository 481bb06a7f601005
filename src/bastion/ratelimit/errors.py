"""Rate limiting's problem codes."""

from __future__ import annotations

from bastion.core.errors import BastionError


class RateLimitError(BastionError):
    """Root of rate limiting errors."""


class RateLimitExceeded(RateLimitError):
    code = "rate_limit.exceeded"
    status = 429
    title = "Too many requests"


class RateLimitUnavailable(RateLimitError):
    code = "rate_limit.unavailable"
    status = 503
    title = "Rate limiter unavailable"
