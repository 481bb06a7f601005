"""The management API under ``/webhooks``: endpoints, secrets, attempts, re-sends.

Every route but the event type catalogue needs ``webhooks:manage`` in the
current organization; the tables are tenant-scoped, so each organization sees
only its own endpoints.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select

from bastion.core.db import DbSession
from bastion.core.pagination import Page, PageParams, paginate
from bastion.orgs.deps import CurrentOrg, require_permissions
from bastion.webhooks.errors import EndpointNotFound
from bastion.webhooks.install import WebhooksFeature
from bastion.webhooks.models import WebhookAttempt, WebhookEndpoint
from bastion.webhooks.schemas import (
    AttemptOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EventTypeOut,
    OutcomeOut,
    Requeued,
    SecretOut,
)
from bastion.webhooks.signing import scheme_of

MANAGE = "webhooks:manage"


def feature(request: Request) -> WebhooksFeature:
    found: WebhooksFeature = request.app.state.bastion.extensions["webhooks"]
    return found


Feature = Annotated[WebhooksFeature, Depends(feature)]
Params = Annotated[PageParams, Query()]
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
managed = APIRouter(dependencies=[Depends(require_permissions(MANAGE))])
_404: dict[int | str, dict[str, Any]] = {404: {"description": "Not found (problem+json)"}}


@router.get("/event-types")
async def event_types(webhooks: Feature) -> list[EventTypeOut]:
    """Every event type with its versions, descriptions and JSON Schemas."""
    return [EventTypeOut.model_validate(entry) for entry in webhooks.registry.schemas()]


@managed.post("/endpoints", status_code=status.HTTP_201_CREATED)
async def create_endpoint(
    body: EndpointIn, org: CurrentOrg, session: DbSession, webhooks: Feature
) -> EndpointOut:
    endpoint = await webhooks.service.create(session, org.org_id, **body.model_dump())
    return EndpointOut.model_validate(endpoint)


@managed.get("/endpoints")
async def list_endpoints(session: DbSession, params: Params) -> Page[EndpointOut]:
    rows, cursor = await paginate(
        session,
        select(WebhookEndpoint),
        WebhookEndpoint.id,
        cursor=params.cursor,
        limit=params.limit,
    )
    return Page(items=[EndpointOut.model_validate(r) for r in rows], next_cursor=cursor)


@managed.get("/endpoints/{endpoint_id}", responses=_404)
async def get_endpoint(
    endpoint_id: uuid.UUID, session: DbSession, webhooks: Feature
) -> EndpointOut:
    return EndpointOut.model_validate(await webhooks.service.get(session, endpoint_id))


@managed.patch("/endpoints/{endpoint_id}", responses=_404)
async def update_endpoint(
    endpoint_id: uuid.UUID, body: EndpointPatch, session: DbSession, webhooks: Feature
) -> EndpointOut:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return EndpointOut.model_validate(await webhooks.service.update(session, endpoint_id, changes))


@managed.post("/endpoints/{endpoint_id}/enable", responses=_404)
async def enable_endpoint(
    endpoint_id: uuid.UUID, session: DbSession, webhooks: Feature
) -> EndpointOut:
    endpoint = await webhooks.service.update(session, endpoint_id, {"enabled": True})
    return EndpointOut.model_validate(endpoint)


@managed.post("/endpoints/{endpoint_id}/disable", responses=_404)
async def disable_endpoint(
    endpoint_id: uuid.UUID, session: DbSession, webhooks: Feature
) -> EndpointOut:
    endpoint = await webhooks.service.update(session, endpoint_id, {"enabled": False})
    return EndpointOut.model_validate(endpoint)


@managed.delete("/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_404)
async def delete_endpoint(
    endpoint_id: uuid.UUID, session: DbSession, webhooks: Feature
) -> Response:
    await webhooks.service.delete(session, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@managed.get("/endpoints/{endpoint_id}/secret", responses=_404)
async def get_secret(endpoint_id: uuid.UUID, session: DbSession, webhooks: Feature) -> SecretOut:
    """What receivers verify with: the whsec_ secret, or a v1a endpoint's whpk_ public key."""
    secret = await webhooks.service.secret(session, endpoint_id)
    return SecretOut(secret=secret, signature=scheme_of(secret))


@managed.post("/endpoints/{endpoint_id}/secret/rotate", responses=_404)
async def rotate_secret(endpoint_id: uuid.UUID, session: DbSession, webhooks: Feature) -> SecretOut:
    """A new secret (or key pair); the previous one keeps signing (beside it) for the
    grace period."""
    secret, until = await webhooks.service.rotate(session, endpoint_id, webhooks.clock.now())
    return SecretOut(secret=secret, signature=scheme_of(secret), previous_valid_until=until)


@managed.post("/endpoints/{endpoint_id}/test", responses=_404)
async def send_test(endpoint_id: uuid.UUID, org: CurrentOrg, webhooks: Feature) -> OutcomeOut:
    """Send a ``webhook.test`` event now; the answer is the attempt's outcome."""
    outcome = await webhooks.service.send_test(org.org_id, endpoint_id)
    if outcome is None:
        raise EndpointNotFound("The endpoint is disabled; enable it first.")
    return OutcomeOut.model_validate(outcome)


@managed.get("/endpoints/{endpoint_id}/attempts", responses=_404)
async def list_attempts(
    endpoint_id: uuid.UUID, session: DbSession, webhooks: Feature, params: Params
) -> Page[AttemptOut]:
    """Every attempt to this endpoint, oldest first."""
    await webhooks.service.get(session, endpoint_id)
    query = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
    rows, cursor = await paginate(
        session, query, WebhookAttempt.id, cursor=params.cursor, limit=params.limit
    )
    return Page(items=[AttemptOut.model_validate(r) for r in rows], next_cursor=cursor)


@managed.post("/endpoints/{endpoint_id}/recover", responses=_404)
async def recover(
    endpoint_id: uuid.UUID,
    since: datetime,
    session: DbSession,
    webhooks: Feature,
) -> Requeued:
    """Send again every failed delivery to this endpoint created since ``since``."""
    found = await webhooks.service.recover(session, endpoint_id, since)
    return Requeued(requeued=len(found))


@managed.post("/messages/{message_id}/retry", responses=_404)
async def retry_message(message_id: uuid.UUID, session: DbSession, webhooks: Feature) -> Requeued:
    """Send a message again to each endpoint it did not reach (or every one, if it is
    still on its way)."""
    found = await webhooks.service.retry_message(session, message_id)
    return Requeued(requeued=len(found))


router.include_router(managed)
