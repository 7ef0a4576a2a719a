"""The load balancer's two probes on the API port: liveness and readiness, both without a key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from opendispatch.api.routing import Operation
from opendispatch.ops.health import Liveness, Readiness, ReadinessChecks

router = APIRouter(tags=["operations"], route_class=Operation)

ALIVE = Liveness()
# Probes must see the answer of now, never one a proxy kept.
NO_STORE = {"Cache-Control": "no-store"}
RETRY_SECONDS = 5


def readiness_checks(request: Request) -> ReadinessChecks:
    """The checks ``create_app`` attached to the application."""
    checks: ReadinessChecks = request.app.state.readiness
    return checks


@router.get("/healthz", response_model=Liveness, summary="Liveness")
async def healthz() -> Response:
    """200 while the process answers; it looks at nothing else, the database included."""
    return Response(ALIVE.model_dump_json(), headers=NO_STORE, media_type="application/json")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A check failed; `failed` names it."}},
    summary="Readiness",
)
async def readyz(request: Request) -> Response:
    """200 when every check passes (the database answers, its schema is current), else 503 naming which."""
    readiness = await readiness_checks(request).run()
    if readiness.failed:
        headers = {**NO_STORE, "Retry-After": str(RETRY_SECONDS)}
        return Response(readiness.model_dump_json(), 503, headers=headers, media_type="application/json")
    return Response(readiness.model_dump_json(), headers=NO_STORE, media_type="application/json")
