"""Deleting a restaurant through the platform API leaves none of its customers' data anywhere:
not in any table of any schema, the directory, the audit trail, the task hub, nor in blobs."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError
from psycopg import sql

from shared.db import transaction
from shared.directory import DIRECTORY_TABLE
from shared.images.blobs import ensure_container
from shared.images.targets import ASSETS_CONTAINER, QUARANTINE_CONTAINER, UPLOADS_CONTAINER
from shared.provisioning.audit import AUDIT_TABLE
from shared.provisioning.requests import schema_for
from shared.storage import blob_service, table
from tests.conftest import IDENTITY, execute
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    task_hub_rows_mentioning,
    unique_slug,
)

_TEXT_TYPES = ("text", "character varying", "jsonb", "json", "ARRAY")


def _postgres_places_holding(needle: str) -> list[str]:
    """schema.table.column of every text-like column, in every schema of the database, whose
    value holds needle."""
    with transaction() as conn:
        columns = conn.execute(
            """select c.table_schema, c.table_name, c.column_name
                 from information_schema.columns c
                 join information_schema.tables t
                   on t.table_schema = c.table_schema and t.table_name = c.table_name
                where t.table_type = 'BASE TABLE' and c.data_type = any(%s)
                  and c.table_schema not in ('pg_catalog', 'information_schema')
                  and c.table_schema not like 'pg_toast%%'""",
            [list(_TEXT_TYPES)],
        ).fetchall()
        found = []
        for column in columns:
            query = sql.SQL("select 1 from {}.{} where {}::text like %s limit 1").format(
                sql.Identifier(column["table_schema"]),
                sql.Identifier(column["table_name"]),
                sql.Identifier(column["column_name"]),
            )
            if conn.execute(query, [f"%{needle}%"]).fetchone():
                found.append(f"{column['table_schema']}.{column['table_name']}."
                             f"{column['column_name']}")  # fmt: skip
    return found


def _storage_places_holding(slug: str, needle: str) -> list[str]:
    """Directory entries and audit rows holding needle, task-hub rows of the restaurant's
    operations holding it, and any blob left under `<slug>/`."""
    found = []
    for name in (DIRECTORY_TABLE, AUDIT_TABLE):
        for entity in table(name).list_entities():
            if needle in " ".join(str(value) for value in entity.values()):
                found.append(f"{name}/{entity['PartitionKey']}/{entity['RowKey']}")
    for instance in (f"provision-{slug}", f"deprovision-{slug}"):
        found += task_hub_rows_mentioning(instance, needle)
    for container in (UPLOADS_CONTAINER, ASSETS_CONTAINER, QUARANTINE_CONTAINER):
        try:
            found += [
                f"{container}/{blob.name}"
                for blob in blob_service()
                .get_container_client(container)
                .list_blobs(name_starts_with=f"{slug}/")
            ]
        except ResourceNotFoundError:  # a container not created yet holds nothing
            continue
    return found


_DELETION_MENU = {"categories": [{"name": "Drinks", "items": [{"name": "Lemonade", "price": 300}]}]}


@pytest.mark.devhost
def test_deleting_a_restaurant_leaves_none_of_its_customers_data_anywhere(
    host: PlatformHost,
) -> None:
    """The schema goes (orders, lines, outbox, idempotency keys, rate-limit windows), the blobs
    under `<slug>/` go, and the tombstone and directory keep no profile: a customer's name,
    phone number and note are found nowhere afterwards, and the schema counting their addresses
    is gone."""
    slug = unique_slug("cust")
    provisioned = host.provision(slug)
    assert provisioned.status_code == 202, provisioned.text
    assert host.wait(provisioned.json()["id"])["status"] == "completed"
    shop_host = f"{slug}.stelly.test"
    owner = {"Authorization": f"Bearer {IDENTITY.mint(role='owner', tenant=slug)}"}
    imported = host.request("POST", "/v1/admin/menu/import", host=shop_host, headers=owner,
                            json=_DELETION_MENU)  # fmt: skip
    assert imported.status_code == 200, imported.text
    published = host.request("POST", "/v1/admin/menu/publish", host=shop_host, headers=owner)
    assert published.status_code == 201, published.text
    menu = host.request("GET", "/v1/store/menu", host=shop_host, headers={}).json()
    item = menu["categories"][0]["items"][0]["id"]

    marker = uuid.uuid4().hex[:8]
    name, phone, note = f"Ada {marker}", "+44 20 7946 0731", f"ring the bell {marker}"
    order = host.request(
        "POST",
        "/v1/store/orders",
        host=shop_host,
        headers={"Idempotency-Key": f"key-{marker}-{uuid.uuid4().hex[:8]}"},
        json={
            "lines": [{"item_id": item, "quantity": 1, "note": note}],
            "fulfilment": {"type": "pickup", "name": name, "phone": phone},
        },
    )
    assert order.status_code == 201, order.text
    needles = (name, phone, note)
    # Not vacuous: before the deletion the customer's data is where the search looks, and the
    # schema counts the customer's address (devhost appends its peer, 127.0.0.1, to
    # X-Forwarded-For, so the address itself is no needle: every local client shares it).
    assert all(_postgres_places_holding(needle) for needle in needles), [
        (needle, _postgres_places_holding(needle)) for needle in needles
    ]
    # Files of its own (not in `uploads`: the image trigger moves anything parked there to
    # quarantine within a poll), seen by the search before the deletion.
    files = [f"{container}/{slug}/logo/{marker}.webp"
             for container in (ASSETS_CONTAINER, QUARANTINE_CONTAINER)]  # fmt: skip
    for path in files:
        container, blob = path.split("/", 1)
        ensure_container.__wrapped__(container)  # as the app creates it, whichever test is first
        blob_service().get_container_client(container).upload_blob(blob, b"x", overwrite=True)
    assert sorted(_storage_places_holding(slug, name)) == sorted(files)
    schema = schema_for(slug)
    windows = sql.SQL("select bucket from {}.rate_limit_windows").format(sql.Identifier(schema))
    assert [row["bucket"] for row in execute(windows)] == ["orders:127.0.0.1"]

    deleting = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert deleting.status_code == 202, deleting.text
    assert host.wait(deleting.json()["id"])["status"] == "completed"

    left = {
        needle: _postgres_places_holding(needle) + _storage_places_holding(slug, needle)
        for needle in needles
    }
    assert left == {needle: [] for needle in needles}, left
    gone = "select count(*) as n from pg_namespace where nspname = %s"
    assert execute(gone, [schema])[0]["n"] == 0  # its rate-limit windows (addresses) with it
