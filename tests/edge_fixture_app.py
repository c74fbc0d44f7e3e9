"""A small function app whose endpoints exercise the HTTP edge (functions/http.py) in tests."""

from __future__ import annotations

import time

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from functions.http import Call, endpoint, json_response
from shared.db import transaction

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str
    quantity: int = Field(ge=1, le=50)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[Line] = Field(min_length=1)


@app.route(route="v1/edge/tenant", methods=["GET"])
@endpoint(tenant=True)
def edge_tenant(call: Call) -> func.HttpResponse:
    return json_response({"tenant": call.require_tenant().slug})


@app.route(route="v1/edge/orders", methods=["POST"])
@endpoint(body=OrderIn)
def edge_orders(call: Call) -> func.HttpResponse:
    return json_response({"lines": len(call.body.lines)}, status=201)


@app.route(route="v1/edge/admin", methods=["GET"])
@endpoint(tenant=True, roles=("owner", "manager"))
def edge_admin(call: Call) -> func.HttpResponse:
    principal = call.require_principal()
    return json_response({"subject": principal.subject, "tenant": principal.tenant})


@app.route(route="v1/edge/platform", methods=["GET"])
@endpoint(platform=True, roles=("platform_admin",))
def edge_platform(call: Call) -> func.HttpResponse:
    return json_response({"ok": True})


@app.route(route="v1/edge/boom", methods=["GET"])
@endpoint()
def edge_boom(call: Call) -> func.HttpResponse:
    raise RuntimeError("a bug, not the client's fault")


@app.route(route="v1/edge/idle", methods=["GET"])
@endpoint()
def edge_idle(call: Call) -> func.HttpResponse:
    """A transaction left idle for ?s= seconds before its next statement."""
    with transaction() as conn:
        conn.execute("select 1")
        time.sleep(float(call.req.params["s"]))
        conn.execute("select 1")
    return json_response({"ok": True})
