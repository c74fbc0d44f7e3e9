"""System endpoints anyone may call: health."""

from __future__ import annotations

import azure.functions as func

from functions.http import Call, endpoint, json_response
from shared.health import HealthReport, health_report

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    responses={200: HealthReport, 503: HealthReport}, summary="Liveness of the app's services"
)
def health(call: Call) -> func.HttpResponse:
    """200 when Postgres and storage answer, else 503 naming what is down."""
    report = health_report()
    return json_response(report, status=200 if report.status == "ok" else 503)
