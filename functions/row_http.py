"""HTTP pieces the admin and kitchen modules share: path ids, expected versions, ETagged rows,
row routes, the restaurant as Postgres has it now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import azure.functions as func
import psycopg
from pydantic import BaseModel, ConfigDict, Field

from functions.http import Call, endpoint, json_response
from shared import errors
from shared.db import tenant_transaction, transaction
from shared.menus.rows import draft_transaction
from shared.tenants import TenantRecord, tenant_by_slug
from shared.versioning import Expected, expected_version, version_etag

EDITORS = ("owner", "manager")
# What row writes read besides their body: the If-Match / expected_version guard (409, 412).
# They answer the row, or a 404 for an id in the body (category_id, modifier_group_ids).
WRITES: dict[str, Any] = {"headers": ("If-Match",)}
# Deletes answer 204, or 409 when the row is still needed (a category's items, a group's max).
DELETES: dict[str, Any] = {"responses": {204: None, 409: None}, "headers": ("If-Match",)}


def creates(shape: type[BaseModel]) -> dict[str, Any]:
    """A draft row created by an editor: 201 with the row (shape), its ETag and Location."""
    return {
        "tenant": True,
        "roles": EDITORS,
        "responses": {201: shape, 404: None, 409: None},
        "etag": True,
    }


def reordered(shape: type[BaseModel]) -> dict[int, Any]:
    """A reorder's answers: the rows in their new order (shape), 404 and 409 besides."""
    return {200: shape, 404: None, 409: None}


class VersionQuery(BaseModel):
    """`?expected_version=N` for writes without a body (DELETE)."""

    # A misspelt `?expected_versoin=` must be a 422, not a delete without the check it asked for.
    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = Field(None, ge=1, le=2**31 - 1)


def path_id(call: Call, noun: str = "resource") -> UUID:
    """The `{id}` route parameter; one that is no uuid names nothing here (404 "No such noun")."""
    try:
        return UUID(call.route["id"])
    except (KeyError, ValueError):
        raise errors.not_found(f"No such {noun}") from None


def writer_expects(call: Call, body_version: int | None = None) -> Expected | None:
    """If-Match (412 when stale), else expected_version from the body or the query (409)."""
    if body_version is None and isinstance(call.parsed_query, VersionQuery):
        body_version = call.parsed_query.expected_version
    return expected_version(call.req.headers.get("if-match"), body_version)


def row_response(
    view: dict[str, Any], *, status: int = 200, location: str | None = None
) -> func.HttpResponse:
    """The row's JSON with its version as ETag (and Location for a 201)."""
    headers = {"ETag": version_etag(view["version"])}
    if location is not None:
        headers["Location"] = location
    return json_response(view, status=status, headers=headers)


def fresh_tenant(call: Call) -> TenantRecord:
    """The host's restaurant as Postgres has it now, not as the request's cache saw it: what an
    editor reads before writing (its ETag) or a display reads as current state."""
    with transaction() as conn:
        record = tenant_by_slug(conn, call.require_tenant().slug)
    if record is None:
        raise errors.not_found("No such restaurant")
    return record


def no_content() -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


RowRead = Callable[[psycopg.Connection, UUID], dict[str, Any]]
RowUpdate = Callable[[psycopg.Connection, UUID, Any, Expected | None], dict[str, Any]]
RowDelete = Callable[[psycopg.Connection, UUID, Expected | None], None]


def add_row_routes(
    bp: func.Blueprint,
    *,
    route: str,
    noun: str,
    patch: type[BaseModel],
    shape: type[BaseModel],
    read: RowRead,
    update: RowUpdate,
    delete: RowDelete,
) -> None:
    """GET, PATCH and DELETE on `route/{id:guid}`: the same three handlers for every row kind.

    PATCH takes If-Match or the body's expected_version, DELETE If-Match or ?expected_version;
    the functions are named `admin_<noun>_get|update|delete` (names are app-wide in Functions).
    GET and PATCH answer the row, whose shape is `shape`.
    """
    name = noun.replace(" ", "_")
    row_route = route + "/{id:guid}"

    def get_row(call: Call) -> func.HttpResponse:
        with tenant_transaction(call.require_tenant().schema_name) as conn:
            return row_response(read(conn, path_id(call)))

    def update_row(call: Call) -> func.HttpResponse:
        expected = writer_expects(call, call.body.expected_version)
        with draft_transaction(call.require_tenant().schema_name) as conn:
            view = update(conn, path_id(call), call.body, expected)
        return row_response(view)

    def delete_row(call: Call) -> func.HttpResponse:
        expected = writer_expects(call)
        with draft_transaction(call.require_tenant().schema_name) as conn:
            delete(conn, path_id(call), expected)
        return no_content()

    for handler, method, declared in (
        (get_row, "GET", {"summary": f"One {noun}", "responses": {200: shape}}),
        (
            update_row,
            "PATCH",
            {
                "summary": f"Change a {noun}",
                "body": patch,
                "responses": {200: shape, 404: None},
                **WRITES,
            },
        ),
        (delete_row, "DELETE", {"summary": f"Delete a {noun}", "query": VersionQuery, **DELETES}),
    ):
        handler.__name__ = handler.__qualname__ = f"admin_{name}_{handler.__name__.split('_')[0]}"
        # GET and PATCH answer the row with its ETag; DELETE's 204 carries none.
        wrapped = endpoint(tenant=True, roles=EDITORS, etag=True, **declared)(handler)
        bp.route(route=row_route, methods=[method])(wrapped)
