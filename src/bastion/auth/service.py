"""``Auth``: the parts of authentication an app built, in one object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.auth.accounts import Accounts
from bastion.auth.api_keys import ApiKeys
from bastion.auth.authenticate import Authenticator
from bastion.auth.browser import BrowserSessions
from bastion.auth.context import AuthContext
from bastion.auth.mfa import Mfa
from bastion.auth.oauth import OAuthLogin
from bastion.auth.sessions import Sessions
from bastion.core.errors import ConfigurationError
from bastion.core.state import bastion_state


class Auth:
    """Accounts, sessions, MFA, API keys and request authentication."""

    def __init__(
        self,
        ctx: AuthContext,
        *,
        browser: BrowserSessions | None = None,
        oauth: Callable[[Sessions], OAuthLogin] | None = None,
    ) -> None:
        """``browser``: cookie session mode when set; ``oauth`` builds the OpenID
        Connect sign-in over the sessions, when providers are configured."""
        self.ctx = ctx
        self.browser = browser
        self.accounts = Accounts(ctx)
        self.mfa = Mfa(ctx)
        self.sessions = Sessions(ctx, self.mfa)
        self.api_keys = ApiKeys(ctx)
        self.authenticator = Authenticator(ctx, self.api_keys)
        self.oauth = oauth(self.sessions) if oauth else None


def auth_of(app: Any) -> Auth:
    """The app's :class:`Auth` (built by ``create_app`` when auth is enabled)."""
    auth = bastion_state(app).extensions.get("auth")
    if not isinstance(auth, Auth):
        raise ConfigurationError("authentication is not enabled: set BASTION_AUTH__ENABLED=true")
    return auth
