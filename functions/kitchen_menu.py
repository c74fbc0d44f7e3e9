"""The kitchen's 86 list: what is sold out now, and 86'ing from the line.

`GET /api/v1/kitchen/availability` lists what customers cannot order now because it is 86'd;
`POST` takes the body of the manager's `POST /api/v1/admin/menu/availability` and does the same,
so the cook who runs out of dough 86es the pizza from the display, "until tomorrow" if need be.
Every display hears of it (`menu.sold_out`, shared/menus/eighty_six.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from functions.http import Call, endpoint, json_response
from functions.kitchen import KITCHEN_ROLES
from shared.db import tenant_transaction
from shared.menus.answer_shapes import AvailabilityOut
from shared.menus.eighty_six import set_availability
from shared.menus.models import AvailabilityChange
from shared.menus.published import latest_snapshot
from shared.menus.sold_out import sold_out_now
from shared.store_answer_shapes import SoldOutListOut

bp = func.Blueprint()

ROUTE = "v1/kitchen/availability"


@bp.route(route=ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    responses={200: SoldOutListOut},
    summary="What is sold out now (the 86 list)",
)
def kitchen_sold_out(call: Call) -> func.HttpResponse:
    """`{"items": [{"id", "name", "sold_out_until"}], "options": [{..., "group"}]}`."""
    with tenant_transaction(call.require_tenant().schema_name) as conn:
        snapshot = latest_snapshot(conn)
    listed = sold_out_now(snapshot, datetime.now(UTC))
    return json_response(listed, headers={"Cache-Control": "no-store"})


@bp.route(route=ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    roles=KITCHEN_ROLES,
    body=AvailabilityChange,
    responses={200: AvailabilityOut, 404: None, 429: None},
    summary="86 items and options from the kitchen, live",
)
def kitchen_eighty_six(call: Call) -> func.HttpResponse:
    """As `POST /api/v1/admin/menu/availability`, for the kitchen's staff too."""
    result = set_availability(
        tenant=call.require_tenant(), change=call.body, changed_by=call.require_principal().subject
    )
    return json_response(result)
