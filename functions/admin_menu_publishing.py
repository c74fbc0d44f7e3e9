"""Whole-menu admin actions (owner, manager): bulk import, publish, 86'ing, and the published
versions with who made each."""

from __future__ import annotations

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from functions.http import Call, endpoint, json_response
from functions.row_http import EDITORS
from shared import errors
from shared.db import tenant_transaction
from shared.menus.answer_shapes import AvailabilityOut, ImportCountsOut
from shared.menus.eighty_six import set_availability
from shared.menus.importer import import_menu
from shared.menus.models import AvailabilityChange, MenuImport
from shared.menus.publish import publish_menu
from shared.menus.published import latest_head, published_version, version_history
from shared.menus.rows import draft_transaction
from shared.menus.snapshot_retention import SNAPSHOT_RETENTION_DAYS
from shared.menus.version_shapes import MenuVersionOut, PublishedOut, VersionsPageOut

bp = func.Blueprint()

VERSIONS = "v1/admin/menu/versions"
MAX_VERSIONS_PAGE = 100


class VersionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The previous page's next_cursor: the last version it showed (versions count from 1).
    cursor: int | None = Field(None, ge=1, le=2**31 - 1)
    limit: int = Field(20, ge=1, le=MAX_VERSIONS_PAGE)


@bp.route(route="v1/admin/menu/import", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=MenuImport,
    responses={200: ImportCountsOut},
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
    responses={201: PublishedOut},
    summary="Publish the draft menu to customers",
)
def admin_menu_publish(call: Call) -> func.HttpResponse:
    published = publish_menu(
        tenant=call.require_tenant(), published_by=call.require_principal().subject
    )
    # The snapshot goes live at once (customers read it at /api/v1/store/menu); the new
    # resource is the version itself.
    location = f"/api/{VERSIONS}/{published['version']}"
    return json_response(published, status=201, headers={"Location": location})


@bp.route(route="v1/admin/menu/availability", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=AvailabilityChange,
    responses={200: AvailabilityOut, 404: None, 429: None},
    summary="86 items and options, live",
)
def admin_menu_availability(call: Call) -> func.HttpResponse:
    """Sold out (or back) at once, without publishing other draft edits."""
    result = set_availability(
        tenant=call.require_tenant(), change=call.body, changed_by=call.require_principal().subject
    )
    return json_response(result)


@bp.route(route=VERSIONS, methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    query=VersionsQuery,
    responses={200: VersionsPageOut},
    summary="Published menu versions, newest first",
)
def admin_menu_versions(call: Call) -> func.HttpResponse:
    """`{"live_version", "versions", "next_cursor"}`: who published, 86'd or added a photo, when.

    Only kept versions are listed: one no order was priced from goes 30 days after it was
    replaced, so the numbers can have gaps.
    """
    query: VersionsQuery = call.parsed_query
    # One snapshot: live_version is the newest version the page could list.
    with tenant_transaction(call.require_tenant().schema_name, snapshot=True) as conn:
        head = latest_head(conn)
        page = version_history(conn, before=query.cursor, limit=query.limit + 1)
    more = len(page) > query.limit
    page = page[: query.limit]
    return json_response(
        {
            "live_version": head[0] if head else 0,
            "versions": page,
            "next_cursor": page[-1]["version"] if more else None,
        }
    )


@bp.route(route=VERSIONS + "/{version:int}", methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    responses={200: MenuVersionOut, 404: None, 410: None},
    summary="One published menu version with its snapshot",
)
def admin_menu_version(call: Call) -> func.HttpResponse:
    """What customers saw at that version (an order's `menu_version`), as it was published."""
    version = int(call.route["version"])
    # One snapshot: a version published between the two reads is not "no longer kept".
    with tenant_transaction(call.require_tenant().schema_name, snapshot=True) as conn:
        found = published_version(conn, version)
        head = latest_head(conn)
    if found is not None:
        return json_response(found)
    if head is not None and 1 <= version <= head[0]:
        raise errors.gone(
            f"Menu version {version} is no longer kept: a version no order was priced from "
            f"goes {SNAPSHOT_RETENTION_DAYS} days after it was replaced"
        )
    raise errors.not_found(f"No menu version {version} (the newest is {head[0] if head else 0})")
