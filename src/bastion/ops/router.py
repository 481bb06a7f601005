"""``/metrics``: the app's metrics in Prometheus text format, optionally guarded.

With ``BASTION_METRICS__ALLOW_NETWORKS`` set, a client whose address is in none
of the networks gets 403; with ``BASTION_METRICS__TOKEN`` set, a request without
``Authorization: Bearer <token>`` gets 401. The address is the connection's
peer: forwarding headers are not believed here, since anyone can send them.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response

from bastion.core.client_ip import address_in, parse_networks
from bastion.core.state import bastion_state
from bastion.ops.metrics import CONTENT_TYPE, Metrics
from bastion.ops.settings import MetricsSettings

router = APIRouter(tags=["ops"])
METRICS_PATH = "/metrics"


class MetricsAccess:
    """Who may read ``/metrics``, parsed once from :class:`MetricsSettings`."""

    def __init__(self, settings: MetricsSettings) -> None:
        token = settings.token.get_secret_value() if settings.token else None
        self.expected = f"Bearer {token}".encode() if token else None
        self.networks = parse_networks(settings.allow_networks)

    def check(self, request: Request) -> None:
        """Raise 403 for an address outside the networks, 401 for a missing or wrong token."""
        host = request.client.host if request.client else ""
        if self.networks and not address_in(host, self.networks):
            raise HTTPException(403, "This address may not read the metrics.")
        if self.expected is not None:
            given = request.headers.get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, self.expected):
                raise HTTPException(
                    401,
                    "Send the metrics token as 'Authorization: Bearer <token>'.",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )


def app_metrics(state_holder: object) -> Metrics:
    metrics = bastion_state(state_holder).extensions["metrics"]
    assert isinstance(metrics, Metrics)
    return metrics


@router.get(METRICS_PATH, summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    access = bastion_state(request.app).extensions.get("metrics_access")
    if isinstance(access, MetricsAccess):
        access.check(request)
    return Response(app_metrics(request.app).render(), media_type=CONTENT_TYPE)
