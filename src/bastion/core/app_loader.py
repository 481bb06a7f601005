"""Finding the user's app from ``module:attribute`` (``--app`` / ``BASTION_APP``)."""

from __future__ import annotations

import importlib
import os
import sys

from fastapi import FastAPI

from bastion.core.errors import ConfigurationError


def load_app(path: str) -> FastAPI:
    """Import ``module:attribute``; the attribute is an app or a function returning one."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"app path {path!r} must look like 'package.module:app'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(f"cannot import {module_name!r} for --app: {exc}") from exc
    target = getattr(module, attribute, None)
    if target is None:
        raise ConfigurationError(f"module {module_name!r} has no attribute {attribute!r}")
    app = target if isinstance(target, FastAPI) else target() if callable(target) else None
    if not isinstance(app, FastAPI):
        raise ConfigurationError(f"{path!r} is neither a FastAPI app nor a factory of one")
    return app
