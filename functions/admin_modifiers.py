"""Admin editing of modifier groups and their options (owner, manager)."""

from __future__ import annotations

import azure.functions as func

from functions.http import Call, endpoint, json_response
from functions.row_http import EDITORS, add_row_routes, creates, path_id, reordered, row_response
from shared.menus import modifiers
from shared.menus.answer_shapes import GroupOut, OptionOut, OptionsReorderedOut
from shared.menus.models import GroupCreate, GroupPatch, OptionAdd, OptionPatch, Reorder
from shared.menus.rows import draft_transaction

bp = func.Blueprint()

GROUPS = "v1/admin/menu/groups"
OPTIONS = "v1/admin/menu/options"


@bp.route(route=GROUPS, methods=["POST"])
@endpoint(body=GroupCreate, summary="Create a group with options", **creates(GroupOut))
def admin_group_create(call: Call) -> func.HttpResponse:
    with draft_transaction(call.require_tenant().schema_name) as conn:
        view = modifiers.create_group(conn, call.body)
    return row_response(view, status=201, location=f"/api/{GROUPS}/{view['id']}")


@bp.route(route=GROUPS + "/{id:guid}/options", methods=["POST"])
@endpoint(body=OptionAdd, summary="Add an option to a group", **creates(OptionOut))
def admin_option_create(call: Call) -> func.HttpResponse:
    with draft_transaction(call.require_tenant().schema_name) as conn:
        view = modifiers.add_option(conn, path_id(call), call.body)
    return row_response(view, status=201, location=f"/api/{OPTIONS}/{view['id']}")


@bp.route(route=GROUPS + "/{id:guid}/options/reorder", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=Reorder,
    responses=reordered(OptionsReorderedOut),
    summary="Reorder a group's options",
)
def admin_options_reorder(call: Call) -> func.HttpResponse:
    with draft_transaction(call.require_tenant().schema_name) as conn:
        views = modifiers.reorder_options(conn, path_id(call), call.body.ids)
    return json_response({"options": views})


# Deleting a group detaches it from its items; an option cannot go below its group's max (409).
add_row_routes(
    bp,
    route=GROUPS,
    noun="modifier group",
    patch=GroupPatch,
    shape=GroupOut,
    read=modifiers.get_group,
    update=modifiers.update_group,
    delete=modifiers.delete_group,
)
add_row_routes(
    bp,
    route=OPTIONS,
    noun="option",
    patch=OptionPatch,
    shape=OptionOut,
    read=modifiers.get_option,
    update=modifiers.update_option,
    delete=modifiers.delete_option,
)
