"""Dining tables and their QR codes (owner, manager)."""

from __future__ import annotations

import azure.functions as func

from functions.http import Call, endpoint, json_response
from functions.row_http import DELETES, VersionQuery, no_content, writer_expects
from shared.db import tenant_transaction, transaction
from shared.dining_table_shapes import TableOut, TablesOut
from shared.dining_tables import (
    TableIn,
    TablePatch,
    create_table,
    delete_table,
    get_table,
    list_tables,
    present,
    rotate_qr,
    table_id_or_404,
    update_table,
)
from shared.tenants import TenantRecord, domains_of
from shared.versioning import required_version, version_etag

bp = func.Blueprint()

ADMIN_ROLES = ("owner", "manager")


def _storefront_domain(tenant: TenantRecord) -> str:
    """The primary domain: printed QR codes should outlive secondary domains."""
    with transaction() as conn:
        domains = domains_of(conn, tenant.id)
    return domains[0] if domains else f"{tenant.slug}.invalid"


@bp.route(route="v1/admin/tables", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    roles=ADMIN_ROLES,
    responses={200: TablesOut},
    summary="Dining tables with their current QR codes",
)
def admin_list_tables(call: Call) -> func.HttpResponse:
    """`{"tables": [...]}` sorted by label."""
    tenant = call.require_tenant()
    with tenant_transaction(tenant.schema_name) as conn:
        rows = list_tables(conn)
    domain = _storefront_domain(tenant)
    return json_response({"tables": [present(row, tenant.id, domain) for row in rows]})


@bp.route(route="v1/admin/tables", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    etag=True,
    tenant=True,
    roles=ADMIN_ROLES,
    body=TableIn,
    responses={201: TableOut, 409: None},
    summary="Add a dining table",
)
def admin_create_table(call: Call) -> func.HttpResponse:
    """201 with the table and its first QR code; 409 when the label is taken."""
    tenant = call.require_tenant()
    with tenant_transaction(tenant.schema_name) as conn:
        row = create_table(conn, call.body)
    table = present(row, tenant.id, _storefront_domain(tenant))
    headers = {
        "Location": f"/api/v1/admin/tables/{table['id']}",
        "ETag": version_etag(table["version"]),
    }
    return json_response(table, status=201, headers=headers)


@bp.route(route="v1/admin/tables/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    etag=True, tenant=True, roles=ADMIN_ROLES, responses={200: TableOut}, summary="One dining table"
)
def admin_get_table(call: Call) -> func.HttpResponse:
    tenant = call.require_tenant()
    table_id = table_id_or_404(call.route.get("id", ""))
    with tenant_transaction(tenant.schema_name) as conn:
        row = get_table(conn, table_id)
    table = present(row, tenant.id, _storefront_domain(tenant))
    return json_response(table, headers={"ETag": version_etag(table["version"])})


@bp.route(route="v1/admin/tables/{id}", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    etag=True,
    tenant=True,
    roles=ADMIN_ROLES,
    body=TableIn,
    headers=("If-Match",),
    responses={200: TableOut},
    summary="Rename or resize a table",
)
def admin_update_table(call: Call) -> func.HttpResponse:
    """Needs `expected_version` in the body (or If-Match); 409 when stale. Seats not sent are
    cleared, as a replacement does; PATCH changes only what it sends."""
    return _save_table(call)


@bp.route(route="v1/admin/tables/{id}", methods=["PATCH"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    etag=True,
    tenant=True,
    roles=ADMIN_ROLES,
    body=TablePatch,
    headers=("If-Match",),
    responses={200: TableOut},
    summary="Change a table's label or seats, keeping the rest",
)
def admin_patch_table(call: Call) -> func.HttpResponse:
    """Needs `expected_version` in the body (or If-Match); 409 when stale."""
    return _save_table(call)


def _save_table(call: Call) -> func.HttpResponse:
    tenant = call.require_tenant()
    table_id = table_id_or_404(call.route.get("id", ""))
    body: TableIn | TablePatch = call.body
    expected = required_version(call.req.headers.get("if-match"), body.expected_version)
    with tenant_transaction(tenant.schema_name) as conn:
        row = update_table(conn, table_id, body, expected)
    table = present(row, tenant.id, _storefront_domain(tenant))
    return json_response(table, headers={"ETag": version_etag(table["version"])})


@bp.route(route="v1/admin/tables/{id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    roles=ADMIN_ROLES,
    query=VersionQuery,
    **DELETES,
    summary="Remove a table (its QR codes stop working)",
)
def admin_delete_table(call: Call) -> func.HttpResponse:
    """If-Match (412 when stale) or ?expected_version (409 when stale), as other rows."""
    tenant = call.require_tenant()
    table_id = table_id_or_404(call.route.get("id", ""))
    expected = writer_expects(call)
    with tenant_transaction(tenant.schema_name) as conn:
        delete_table(conn, table_id, expected)
    return no_content()


@bp.route(route="v1/admin/tables/{id}/qr", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    etag=True,
    tenant=True,
    roles=ADMIN_ROLES,
    responses={200: TableOut},
    summary="Issue a new QR code; older codes stop working",
)
def admin_rotate_table_qr(call: Call) -> func.HttpResponse:
    """The table with its new qr_version, qr_token and qr_url."""
    tenant = call.require_tenant()
    table_id = table_id_or_404(call.route.get("id", ""))
    with tenant_transaction(tenant.schema_name) as conn:
        row = rotate_qr(conn, table_id)
    table = present(row, tenant.id, _storefront_domain(tenant))
    return json_response(table, headers={"ETag": version_etag(table["version"])})
