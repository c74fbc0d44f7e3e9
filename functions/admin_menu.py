"""Admin editing of the draft menu: the whole menu, categories and items (owner, manager).

Writes take If-Match (412 when stale) or `expected_version` (409); ids are route `guid`s, and
an id that is not in this tenant's schema is 404.
"""

from __future__ import annotations

import azure.functions as func

from functions.http import Call, endpoint, json_response
from functions.row_http import EDITORS, add_row_routes, creates, path_id, reordered, row_response
from shared.db import tenant_transaction
from shared.menus import categories, items
from shared.menus.answer_shapes import (
    CategoriesReorderedOut,
    CategoryOut,
    DraftMenuOut,
    ItemOut,
    ItemsReorderedOut,
)
from shared.menus.draft import draft_menu
from shared.menus.models import CategoryCreate, CategoryPatch, ItemCreate, ItemPatch, Reorder
from shared.menus.published import latest_head
from shared.menus.rows import draft_transaction

bp = func.Blueprint()

CATEGORIES = "v1/admin/menu/categories"
ITEMS = "v1/admin/menu/items"


@bp.route(route="v1/admin/menu", methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    responses={200: DraftMenuOut},
    summary="The draft menu with its modifier groups",
)
def admin_menu_get(call: Call) -> func.HttpResponse:
    """Everything an admin app edits, plus the version customers see now (0: unpublished)."""
    with tenant_transaction(call.require_tenant().schema_name) as conn:
        menu = draft_menu(conn)
        head = latest_head(conn)
    return json_response({**menu, "published_version": head[0] if head else 0})


@bp.route(route=CATEGORIES, methods=["POST"])
@endpoint(body=CategoryCreate, summary="Create a category", **creates(CategoryOut))
def admin_category_create(call: Call) -> func.HttpResponse:
    with draft_transaction(call.require_tenant().schema_name) as conn:
        view = categories.create_category(conn, call.body)
    return row_response(view, status=201, location=f"/api/{CATEGORIES}/{view['id']}")


@bp.route(route=f"{CATEGORIES}/reorder", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=Reorder,
    responses=reordered(CategoriesReorderedOut),
    summary="Reorder all categories",
)
def admin_categories_reorder(call: Call) -> func.HttpResponse:
    with draft_transaction(call.require_tenant().schema_name) as conn:
        views = categories.reorder_categories(conn, call.body.ids)
    return json_response({"categories": views})


@bp.route(route=CATEGORIES + "/{id:guid}/items/reorder", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=Reorder,
    responses=reordered(ItemsReorderedOut),
    summary="Reorder a category's items",
)
def admin_category_items_reorder(call: Call) -> func.HttpResponse:
    with draft_transaction(call.require_tenant().schema_name) as conn:
        views = items.reorder_items(conn, path_id(call), call.body.ids)
    return json_response({"items": views})


@bp.route(route=ITEMS, methods=["POST"])
@endpoint(body=ItemCreate, summary="Create an item", **creates(ItemOut))
def admin_item_create(call: Call) -> func.HttpResponse:
    with draft_transaction(call.require_tenant().schema_name) as conn:
        view = items.create_item(conn, call.body)
    return row_response(view, status=201, location=f"/api/{ITEMS}/{view['id']}")


# A category with items cannot be deleted (409); deleting an item is a soft delete.
add_row_routes(
    bp,
    route=CATEGORIES,
    noun="category",
    patch=CategoryPatch,
    shape=CategoryOut,
    read=categories.get_category,
    update=categories.update_category,
    delete=categories.delete_category,
)
add_row_routes(
    bp,
    route=ITEMS,
    noun="item",
    patch=ItemPatch,
    shape=ItemOut,
    read=items.get_item,
    update=items.update_item,
    delete=items.delete_item,
)
