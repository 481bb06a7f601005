"""``Idempotency-Key`` on a route: the ``Idempotent`` dependency and ``IdempotentRoute``.

The dependency claims the key (it runs among the route's dependencies, so an
authentication dependency listed before it has set the principal); the route
class sees the finished response, stores it or releases the key, and answers
replays. Only routes that declare ``Idempotent`` pay for any of it: no
middleware, and the route class leaves other routes' handlers untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from bastion.core.errors import ConfigurationError
from bastion.core.state import bastion_state
from bastion.idempotency.errors import KeyRequired
from bastion.idempotency.service import (
    Idempotency,
    Started,
    check_key,
    fingerprint,
    principal_scope,
)
from bastion.idempotency.store import StoredResponse

REPLAYED_HEADER = "Idempotent-Replayed"
_SCOPE_KEY = "bastion.idempotency"


@dataclass
class _Exchange:
    """What the dependency and the route class share about one request."""

    service: Idempotency | None = None
    started: Started | None = None
    response: Response | None = None

    async def finish(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """Store the response, or release the key when the request failed."""
        if self.started is None or self.service is None:
            return
        response = self.response
        if exc_type is not None or response is None:
            await self.service.release(self.started)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
        body = bytes(response.body) if hasattr(response, "body") else None
        await self.service.finish(self.started, response.status_code, headers, body)


class _Replay(Exception):
    """Control flow: the dependency found a stored response; IdempotentRoute sends it."""

    def __init__(self, response: StoredResponse) -> None:
        super().__init__("replay")
        self.response = response


def idempotency(app: Any) -> Idempotency:
    """The app's :class:`Idempotency` service (built by ``create_app``)."""
    service = bastion_state(app).extensions.get("idempotency")
    if not isinstance(service, Idempotency):
        raise ConfigurationError("this app has no idempotency service; build it with create_app")
    return service


class Idempotent:
    """Honour ``Idempotency-Key`` on a route (whose router has ``route_class=IdempotentRoute``).

    >>> from fastapi import APIRouter, Depends
    >>> from bastion.idempotency import Idempotent, IdempotentRoute
    >>> router = APIRouter(route_class=IdempotentRoute)
    >>> @router.post("/orders", status_code=201, dependencies=[Depends(Idempotent())])
    ... async def create_order() -> dict[str, str]:
    ...     return {"status": "created"}

    ``required`` answers 400 ``idempotency.key_required`` without the header;
    ``ttl`` (seconds) replaces ``BASTION_IDEMPOTENCY__TTL_SECONDS``; ``methods``
    replaces ``BASTION_IDEMPOTENCY__METHODS`` for this route.
    """

    def __init__(
        self,
        *,
        required: bool = False,
        ttl: float | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        self.required = required
        self.ttl = ttl
        self.methods = frozenset(m.upper() for m in methods) if methods is not None else None

    async def __call__(
        self,
        request: Request,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                description="Makes the request safe to retry: a repeat with the same key "
                "gets the first response (IETF httpapi Idempotency-Key draft).",
            ),
        ] = None,
    ) -> None:
        exchange = request.scope.get(_SCOPE_KEY)
        if not isinstance(exchange, _Exchange):
            raise ConfigurationError(
                f"route {request.scope['path']} declares Idempotent but its router has "
                "no route_class=IdempotentRoute"
            )
        service = idempotency(request.app)
        methods = service.methods if self.methods is None else self.methods
        if request.method not in methods:
            return
        if idempotency_key is None:
            if self.required:
                raise KeyRequired("This request needs an Idempotency-Key header.")
            return
        scope = principal_scope()
        key = f"{scope}/{check_key(idempotency_key)}"
        target = request.scope["path"]
        if request.scope.get("query_string"):
            target += "?" + request.scope["query_string"].decode("latin-1")
        body = await request.body()
        claim = await service.begin(
            key, fingerprint(request.method, target, scope, body), ttl=self.ttl
        )
        if claim.response is not None:
            raise _Replay(claim.response)
        assert claim.token is not None
        exchange.service = service
        exchange.started = Started(key, claim.token, self.ttl or service.settings.ttl_seconds)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotentRoute(APIRoute):
    """Route class that stores the responses of routes declaring :class:`Idempotent`.

    A response below 500 is stored (status, selected headers, body bytes) once the
    route's function-scoped dependencies have exited — after ``DbSession`` has
    committed — and before it is sent. A 5xx response, an exception or a failed
    commit releases the key, so that a retry runs the route again (nothing was
    committed). A repeat gets the stored response with ``Idempotent-Replayed: true``.
    """

    def get_route_handler(self) -> Handler:
        inner: Handler = super().get_route_handler()
        if not declares_idempotent(self):
            return inner

        async def handler(request: Request) -> Response:
            exchange = request.scope[_SCOPE_KEY] = _Exchange()
            # Exits run last-in first-out: pushed before the dependencies are solved,
            # this runs after all of them, the session's commit included.
            request.scope["fastapi_function_astack"].push_async_exit(exchange.finish)
            try:
                exchange.response = await inner(request)
            except _Replay as replay:
                return _replayed(replay.response)
            return exchange.response

        return handler


def _replayed(stored: StoredResponse) -> Response:
    response = Response(stored.body, status_code=stored.status)
    for name, value in stored.headers:
        response.headers.append(name, value)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def declares_idempotent(route: Any) -> bool:
    """Whether a route has an :class:`Idempotent` among its dependencies."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        if isinstance(dependant.call, Idempotent):
            return True
        stack.extend(dependant.dependencies)
    return False
