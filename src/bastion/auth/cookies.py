"""Cookies with the app's attributes, and cookies whose value is signed.

>>> from bastion.security import Signer
>>> options = CookieOptions(secure=True)
>>> flow = SignedCookie("flow", Signer(["k" * 32], salt="flow"), options, max_age=600)
>>> from starlette.responses import Response
>>> response = Response()
>>> flow.set(response, "state-123")
>>> response.headers["set-cookie"].split(";")[0].startswith("flow=state-123.")
True
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from bastion.security import BadSignature, Signer


@dataclass(frozen=True)
class CookieOptions:
    """Attributes shared by the app's cookies: ``SameSite=Lax`` (sent on top-level
    navigations, never on cross-site subrequests or form posts), ``Secure`` unless
    turned off for local http, and the optional ``Domain``."""

    secure: bool = True
    domain: str | None = None

    def set(
        self,
        response: Response,
        name: str,
        value: str,
        *,
        max_age: int,
        path: str = "/",
        httponly: bool = True,
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            domain=self.domain,
            secure=self.secure,
            httponly=httponly,
            samesite="lax",
        )

    def clear(self, response: Response, name: str, *, path: str = "/") -> None:
        # A cookie is deleted only by one with the same name, path and domain.
        response.delete_cookie(
            name, path=path, domain=self.domain, secure=self.secure, samesite="lax"
        )


class SignedCookie:
    """An HttpOnly cookie whose value is signed by a :class:`Signer` (a salt per
    use; the app's previous secret keys still verify, so rotating the secret does
    not log anyone out) and refused after ``max_age`` seconds. The value stays
    readable by the client: never put a secret in it."""

    def __init__(
        self,
        name: str,
        signer: Signer,
        options: CookieOptions,
        *,
        max_age: int,
        path: str = "/",
    ) -> None:
        self.name = name
        self.max_age = max_age
        self.path = path
        self._signer = signer
        self._options = options

    def set(self, response: Response, value: str) -> None:
        signed = self._signer.sign(value)
        self._options.set(response, self.name, signed, max_age=self.max_age, path=self.path)

    def read(self, request: HTTPConnection) -> str | None:
        """The value, or ``None`` when the cookie is absent, altered or too old."""
        signed = request.cookies.get(self.name)
        if not signed:
            return None
        try:
            return self._signer.unsign(signed, max_age=self.max_age)
        except BadSignature:  # SignatureExpired included
            return None

    def clear(self, response: Response) -> None:
        self._options.clear(response, self.name, path=self.path)
