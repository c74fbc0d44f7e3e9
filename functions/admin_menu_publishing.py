"""Whole-menu admin actions: bulk import, publish, and 86'ing (owner, manager)."""

from __future__ import annotations

import azure.functions as func

from functions.http import Call, endpoint, json_response
from functions.row_http import EDITORS
from shared.menus.eighty_six import set_availability
from shared.menus.importer import import_menu
from shared.menus.models import AvailabilityChange, MenuImport
from shared.menus.publish import publish_menu
from shared.menus.rows import draft_transaction

bp = func.Blueprint()


@bp.route(route="v1/admin/menu/import", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=MenuImport,
    responses={200: None},
    summary="Replace the draft menu",
)
def admin_menu_import(call: Call) -> func.HttpResponse:
    """All or nothing: the document is validated whole, then written in one transaction."""
    with draft_transaction(call.require_tenant().schema_name) as conn:
        counts = import_menu(conn, call.body)
    return json_response(counts)


@bp.route(route="v1/admin/menu/publish", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    responses={201: None},
    summary="Publish the draft menu to customers",
)
def admin_menu_publish(call: Call) -> func.HttpResponse:
    published = publish_menu(
        tenant=call.require_tenant(), published_by=call.require_principal().subject
    )
    # The snapshot goes live at once: customers read it at the store menu.
    return json_response(published, status=201, headers={"Location": "/api/v1/store/menu"})


@bp.route(route="v1/admin/menu/availability", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=AvailabilityChange,
    responses={200: None, 404: None},
    summary="86 items and options, live",
)
def admin_menu_availability(call: Call) -> func.HttpResponse:
    """Sold out (or back) at once, without publishing other draft edits."""
    result = set_availability(
        tenant=call.require_tenant(), change=call.body, changed_by=call.require_principal().subject
    )
    return json_response(result)
