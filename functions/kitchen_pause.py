"""Pausing new orders ("busy mode"): the kitchen or a manager stops orders for a while.

`PUT /api/v1/kitchen/pause` pauses for `minutes` from now, up to the next whole minute (again:
from now, so it extends or shortens), `DELETE` resumes, `GET` tells whether orders are paused.
While paused, orders are a 422 naming the time they resume and the store config says
`open_now: false` with `paused`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from functions.http import Call, endpoint, json_response
from functions.kitchen import KITCHEN_ROLES
from functions.row_http import fresh_tenant, no_content
from shared.ordering_pause import (
    MAX_PAUSE_MINUTES,
    OrderingPause,
    PauseNote,
    pause_in_force,
    pause_until,
)
from shared.pausing_orders import set_ordering_pause
from shared.store_answer_shapes import PauseStateOut
from shared.tenants import TenantRecord

bp = func.Blueprint()


class PauseIn(BaseModel):
    """How long to stop taking orders, and what customers are told (optional)."""

    model_config = ConfigDict(extra="forbid")

    minutes: Annotated[StrictInt, Field(ge=1, le=MAX_PAUSE_MINUTES)]
    note: PauseNote | None = None


def _state(record: TenantRecord) -> dict[str, Any]:
    pause = pause_in_force(record.ordering_pause, datetime.now(UTC))
    if pause is None:
        return {"paused": False}
    return {"paused": True, **pause.model_dump(mode="json")}


_NO_STORE = {"Cache-Control": "no-store"}


def _actor(call: Call) -> str:
    return f"staff:{call.require_principal().subject}"


@bp.route(route="v1/kitchen/pause", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    responses={200: PauseStateOut},
    summary="Whether new orders are paused, and until when",
)
def kitchen_pause_get(call: Call) -> func.HttpResponse:
    """`{"paused": false}` or `{"paused": true, "until", "since", "by", "note"}`, from Postgres."""
    return json_response(_state(fresh_tenant(call)), headers=_NO_STORE)


@bp.route(route="v1/kitchen/pause", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    roles=KITCHEN_ROLES,
    body=PauseIn,
    responses={200: PauseStateOut},
    summary="Stop taking new orders for some minutes from now",
)
def kitchen_pause_put(call: Call) -> func.HttpResponse:
    body: PauseIn = call.body
    now, by = datetime.now(UTC), _actor(call)
    until = pause_until(now, body.minutes)
    pause = OrderingPause(since=now, until=until, by=by, note=body.note)
    record = set_ordering_pause(call.require_tenant(), pause, by=by, now=now)
    return json_response(_state(record), headers=_NO_STORE)


@bp.route(route="v1/kitchen/pause", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(tenant=True, roles=KITCHEN_ROLES, responses={204: None}, summary="Take orders again now")
def kitchen_pause_delete(call: Call) -> func.HttpResponse:
    set_ordering_pause(call.require_tenant(), None, by=_actor(call), now=datetime.now(UTC))
    return no_content()
