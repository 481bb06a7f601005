"""What makes a password acceptable, after NIST SP 800-63B.

Length, not composition: no rules about digits or symbols, which push people
to ``Password1!``. Refused instead: passwords that contain the user's email
name or the app's name, the 10,000 most common passwords, and (with a breach
checker) passwords known from breaches. Each refusal is its own problem code,
so a client can say exactly what to change.

>>> import asyncio
>>> policy = PasswordPolicy(min_length=12, app_name="Taskboard")
>>> asyncio.run(policy.validate("correct horse battery staple", email="ann@example.com"))
>>> asyncio.run(policy.validate("my taskboard password"))
Traceback (most recent call last):
...
bastion.security.errors.PasswordContainsAppName: The password must not contain the app's name.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from bastion.security.breach import BreachChecker
from bastion.security.errors import (
    PasswordBreached,
    PasswordContainsAppName,
    PasswordContainsEmail,
    PasswordTooCommon,
    PasswordTooLong,
    PasswordTooShort,
)
from bastion.security.settings import SecuritySettings

__all__ = ["PasswordPolicy", "bundled_common_passwords"]

# An email name shorter than this is too likely to occur by chance ("al", "jo").
MIN_EMAIL_NAME = 3


@lru_cache(maxsize=1)
def bundled_common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, in lower case (see the file's header)."""
    text = files("bastion.security").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )


class PasswordPolicy:
    """Checks a new password; ``validate`` raises one :class:`PasswordRejected` per rule."""

    def __init__(
        self,
        min_length: int = 12,
        max_length: int = 128,
        app_name: str | None = None,
        common_passwords: frozenset[str] | None = None,
        breach_checker: BreachChecker | None = None,
    ) -> None:
        if min_length > max_length:
            raise ValueError(f"min_length {min_length} is larger than max_length {max_length}")
        self.min_length = min_length
        self.max_length = max_length
        self._app_name = (app_name or "").strip().casefold()
        self._common = bundled_common_passwords() if common_passwords is None else common_passwords
        self._breaches = breach_checker

    @classmethod
    def from_settings(
        cls,
        settings: SecuritySettings,
        *,
        app_name: str | None = None,
        breach_checker: BreachChecker | None = None,
    ) -> PasswordPolicy:
        return cls(
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
            app_name=app_name,
            breach_checker=breach_checker,
        )

    async def validate(self, password: str, *, email: str | None = None) -> None:
        """Return if ``password`` is acceptable for the account of ``email``; raise otherwise."""
        if len(password) < self.min_length:
            raise PasswordTooShort(
                f"The password needs at least {self.min_length} characters.",
                min_length=self.min_length,
            )
        if len(password) > self.max_length:
            raise PasswordTooLong(
                f"The password may have at most {self.max_length} characters.",
                max_length=self.max_length,
            )
        folded = password.casefold()
        name = (email or "").rpartition("@")[0].casefold() if email and "@" in email else ""
        if len(name) >= MIN_EMAIL_NAME and name in folded:
            raise PasswordContainsEmail("The password must not contain your email address.")
        if self._app_name and self._app_name in folded:
            raise PasswordContainsAppName("The password must not contain the app's name.")
        if folded in self._common:
            raise PasswordTooCommon("This password is too common; choose another.")
        if self._breaches is not None and await self._breaches.breach_count(password) > 0:
            raise PasswordBreached(
                "This password appeared in a data breach, so attackers try it; choose another."
            )
