"""``/metrics``: the app's metrics in Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bastion.core.state import bastion_state
from bastion.ops.metrics import CONTENT_TYPE, Metrics

router = APIRouter(tags=["ops"])
METRICS_PATH = "/metrics"


def app_metrics(state_holder: object) -> Metrics:
    metrics = bastion_state(state_holder).extensions["metrics"]
    assert isinstance(metrics, Metrics)
    return metrics


@router.get(METRICS_PATH, summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(app_metrics(request.app).render(), media_type=CONTENT_TYPE)
