"""Which route a request will hit, known before the router runs.

Middleware needs the route *template* (``/projects/{project_id}``) for metric
labels and per-route policies before the router has run. ``RouteIndex``
flattens the app's routes (included routers too), matches a request's method
and path against them, and remembers answers in a bounded cache.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Mount, compile_path
from starlette.types import Scope

UNMATCHED = "<unmatched>"


@dataclass(frozen=True)
class RouteInfo:
    """A route's template, methods and the route object (``None`` when unmatched)."""

    template: str
    methods: frozenset[str] | None
    route: Any


_NO_ROUTE = RouteInfo(UNMATCHED, None, None)


def flat_routes(routes: Sequence[BaseRoute]) -> Iterator[RouteInfo]:
    """Every route with its full path, looking into included routers."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before 0.165 keeps included routes flat
        contexts: Any = routes
    else:
        contexts = iter_route_contexts(routes)
    for context in contexts:
        original = getattr(context, "original_route", context)
        path = getattr(context, "path", None)
        if path is None:
            continue
        if isinstance(original, Mount):
            path = path.rstrip("/") + "/{path:path}"
        methods = getattr(context, "methods", None)
        yield RouteInfo(path, frozenset(methods) if methods else None, original)


class RouteIndex:
    """``lookup(scope)`` gives the :class:`RouteInfo` the router will choose."""

    def __init__(self, routes: Sequence[BaseRoute], *, cache_size: int = 4096) -> None:
        self._routes = routes
        self._compiled: list[tuple[re.Pattern[str], RouteInfo]] | None = None
        self._cache: OrderedDict[tuple[str, str], RouteInfo] = OrderedDict()
        self._cache_size = cache_size

    @property
    def entries(self) -> list[RouteInfo]:
        return [info for _, info in self._table()]

    def _table(self) -> list[tuple[re.Pattern[str], RouteInfo]]:
        # Built on first use: routers may be added after the middleware is.
        if self._compiled is None:
            self._compiled = [(compile_path(i.template)[0], i) for i in flat_routes(self._routes)]
        return self._compiled

    def lookup(self, scope: Scope) -> RouteInfo:
        key = (scope.get("method", ""), scope["path"])
        found = self._cache.get(key)
        if found is None:
            found = self._match(*key)
            self._cache[key] = found
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found

    def _match(self, method: str, path: str) -> RouteInfo:
        partial: RouteInfo | None = None
        for pattern, info in self._table():
            if not pattern.match(path):
                continue
            if (
                info.methods is None
                or method in info.methods
                or (method == "HEAD" and "GET" in info.methods)
            ):
                return info
            partial = partial or info  # right path, wrong method: still that route
        return partial or _NO_ROUTE


class PathPrefixes:
    """Paths and everything under them: ``/docs`` covers ``/docs`` and ``/docs/x``,
    not ``/docsearch``. Used for exclusions and exemptions of middleware.

    >>> prefixes = PathPrefixes(["/docs", "/metrics/"])
    >>> [prefixes.covers(p) for p in ("/docs", "/docs/a.js", "/docsearch", "/metrics")]
    [True, True, False, True]
    """

    def __init__(self, paths: Iterable[str]) -> None:
        paths = list(paths)
        self._exact = frozenset(p.rstrip("/") or "/" for p in paths)
        self._prefixes = tuple(p.rstrip("/") + "/" for p in paths)

    def covers(self, path: str) -> bool:
        return path in self._exact or path.startswith(self._prefixes)
