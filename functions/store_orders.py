"""Customer order endpoints: place (idempotent), read, follow live, and look up a table's QR."""

from __future__ import annotations

import time

import azure.functions as func
from pydantic import BaseModel, ConfigDict

from functions.http import Call, endpoint, if_none_match, json_response
from shared import errors
from shared.db import tenant_transaction
from shared.events.groups import order_group
from shared.events.publisher import PublishError, client_url
from shared.orders.access import presented_token, require_order_access
from shared.orders.answer_shapes import CustomerOrderOut, LiveUrlOut
from shared.orders.idempotency import check_key
from shared.orders.models import OrderIn, OrderReceiptOut, Reason
from shared.orders.placement import place_order
from shared.orders.queries import customer_order
from shared.orders.records import STORE_ORDERS
from shared.orders.state_machine import cancel_by_customer
from shared.rate_limit import client_ip
from shared.store_answer_shapes import StoreTableOut
from shared.tables_qr import table_for_token
from shared.telemetry import record_order_created
from shared.tenancy import request_host, suspended
from shared.versioning import expected_version, version_etag

bp = func.Blueprint()


@bp.route(route="v1/store/orders", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    # A suspended restaurant takes no new order, but a retry of one placed before gets its
    # receipt (place_order's refuse_new).
    while_suspended=True,
    body=OrderIn,
    headers=("Idempotency-Key",),
    responses={201: OrderReceiptOut, 403: None, 429: None},
    response_headers={201: ("Idempotent-Replayed",)},
    summary="Place an order, priced by the server; send an Idempotency-Key to retry safely",
)
def place_store_order(call: Call) -> func.HttpResponse:
    """201 with the receipt, or the stored first answer when the Idempotency-Key repeats."""
    tenant = call.require_tenant()
    started = time.perf_counter()
    closed = tenant.status == "suspended"
    result = place_order(
        tenant,
        call.body,
        idempotency_key=check_key(call.req.headers.get("idempotency-key")),
        client_ip=client_ip(call.req.headers),
        refuse_new=suspended(request_host(call.req.headers)) if closed else None,
    )
    if not result.replayed:
        record_order_created(tenant.slug, (time.perf_counter() - started) * 1000)
    headers = {"Location": f"{STORE_ORDERS}/{result.body['id']}", "Cache-Control": "no-store"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(result.body, status=result.status, headers=headers)


def _order_id(call: Call) -> str:
    tenant = call.require_tenant()
    token = presented_token(call.req.headers, call.query)
    return require_order_access(tenant.id, call.route.get("id", ""), token)


def _customer_view(call: Call, order_id: str) -> dict:
    """The order as its customer sees it; 404 when there is none."""
    with tenant_transaction(call.require_tenant().schema_name) as conn:
        order = customer_order(conn, order_id)
    if order is None:
        raise errors.not_found("No such order")
    return order


@bp.route(route="v1/store/orders/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    etag=True,
    tenant=True,
    while_suspended=True,
    order_access=True,
    headers=("If-None-Match",),
    responses={200: CustomerOrderOut},
    summary="An order's status, lines, totals and history (access token)",
)
def get_store_order(call: Call) -> func.HttpResponse:
    """The customer's view of their order; 404 without its access token."""
    order = _customer_view(call, _order_id(call))
    etag = version_etag(order["version"])
    headers = {"Cache-Control": "no-store", "ETag": etag}
    if if_none_match(call.req, etag):
        # Nothing the customer sees changes without a new version: a tracking page that polls
        # gets an empty answer until the order moves.
        return func.HttpResponse(status_code=304, headers=headers)
    return json_response(order, headers=headers)


class CustomerCancelIn(BaseModel):
    """Why, if the customer says (the kitchen sees it); `{}` is enough."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


@bp.route(
    route="v1/store/orders/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS
)
@endpoint(
    etag=True,
    tenant=True,
    while_suspended=True,
    order_access=True,
    body=CustomerCancelIn,
    headers=("If-Match",),
    responses={200: CustomerOrderOut, 404: None, 409: None},
    summary="Cancel an order the restaurant has not accepted yet (access token)",
)
def cancel_store_order(call: Call) -> func.HttpResponse:
    """200 with the order as GET shows it, now cancelled; 409 once the restaurant has taken it
    (call them) or when it is cancelled already; 412 when an If-Match sent is stale."""
    order_id = _order_id(call)
    tenant = call.require_tenant()
    body: CustomerCancelIn = call.body
    # No version is needed, but one sent is honoured (RFC 9110 §13.1.1): a page that says
    # "cancel this order as shown" must not cancel one that has changed since.
    expected = expected_version(call.req.headers.get("if-match"), None)
    cancel_by_customer(tenant, order_id, reason=body.reason or None, expected=expected)
    order = _customer_view(call, order_id)
    return json_response(
        order, headers={"Cache-Control": "no-store", "ETag": version_etag(order["version"])}
    )


@bp.route(
    route="v1/store/orders/{id}/negotiate", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS
)
@endpoint(
    tenant=True,
    while_suspended=True,
    order_access=True,
    responses={200: LiveUrlOut},
    summary="A Web PubSub client URL that follows one order (access token)",
)
def negotiate_store_order(call: Call) -> func.HttpResponse:
    """`{"url"}` whose token joins `o.<id>` and can join no other group."""
    order_id = _order_id(call)
    group = order_group(order_id)
    try:
        url = client_url(user_id=f"order:{order_id}", join=[group], allowed=[group])
    except PublishError:
        raise errors.service_unavailable(
            "Live updates are unavailable; poll the order", 5
        ) from None
    return json_response({"url": url}, headers={"Cache-Control": "no-store"})


@bp.route(route="v1/store/tables/{token}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    responses={200: StoreTableOut},
    summary="The table a QR code names (404 when tampered or rotated)",
    secret_params=("token",),  # a capability to order to the table: not for the logs
)
def get_store_table(call: Call) -> func.HttpResponse:
    """`{"label", "table_token"}` for a current QR token of this restaurant."""
    tenant = call.require_tenant()
    token = call.route.get("token", "")
    with tenant_transaction(tenant.schema_name) as conn:
        table = table_for_token(conn, tenant.id, token)
    if table is None:
        raise errors.not_found("This table code is not valid here; ask staff for a current one")
    return json_response(
        {"label": table.label, "table_token": token}, headers={"Cache-Control": "no-store"}
    )
