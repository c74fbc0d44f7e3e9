"""The tenant directory keeps the newest record, whoever writes last, and lets old entries age out.

Writers race: two saves of one profile, a save and a cache refill that read Postgres a moment
before it, a status change and either. Each test lets the older write land last.
"""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from shared import tenant_profile
from shared.config import get_settings
from shared.db import transaction
from shared.directory import directory_get, directory_put
from shared.provisioning.deprovision import DEPROVISION_STEPS, run_deprovision_step
from shared.restaurant_settings import default_settings
from shared.storage import reset_clients
from shared.tenancy import TenantResolver, _lookup_database, resolver
from shared.tenant_profile import update_tenant_profile
from shared.tenants import TenantRecord, tenant_by_slug
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.stalling_proxy import StallingProxy, answered_within, table_storage_proxy_fixture  # noqa: F401
from tests.storefront_helpers import owner_api


@pytest.fixture
def api_with_storage_down(client, tenants, auth_header, monkeypatch):
    """A manager's API client while nothing answers at the storage account's address."""
    from devhost.services import AzuritePorts, free_port

    tenant = tenants.create()
    port = free_port()
    monkeypatch.setenv("AzureWebJobsStorage", AzuritePorts(port, port, port).connection_string())
    get_settings.cache_clear()
    reset_clients()
    try:
        yield owner_api(client, tenant, auth_header, role="manager"), tenant
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_clients()
        resolver.invalidate(f"{tenant.slug}.stelly.test")


def _rename(tenant: TenantRecord, name: str) -> TenantRecord:
    return update_tenant_profile(tenant_id=tenant.id, settings=default_settings(name))


def _name(record: TenantRecord | None) -> str:
    assert record is not None
    return record.settings["business_name"]


def test_every_change_of_the_row_takes_a_higher_revision(tenants) -> None:
    tenant = tenants.create()
    renamed = _rename(tenant, "First")
    with transaction() as conn:
        conn.execute("update tenants set status = 'suspended' where id = %s", [tenant.id])
        suspended = tenant_by_slug(conn, tenant.slug)
    assert tenant.revision < renamed.revision < suspended.revision
    assert (renamed.version, suspended.version) == (2, 2)  # the profile's ETag is another count


def test_of_two_saves_the_later_one_stays_even_when_the_earlier_writes_last(tenants) -> None:
    tenant = tenants.create()
    domain = f"{tenant.slug}.stelly.test"
    first = _rename(tenant, "First")
    second = _rename(tenant, "Second")
    assert directory_put(domain, first) is False  # the first save's write, arriving late
    assert _name(directory_get(domain)) == "Second"
    assert directory_put(domain, second) is True  # the same revision again renews the entry
    assert _name(directory_get(domain)) == "Second"


def test_a_refill_from_an_older_read_does_not_replace_a_newer_entry(tenants) -> None:
    tenant = tenants.create()
    domain = f"{tenant.slug}.stelly.test"
    read_before_the_save = _lookup_database(domain)
    _rename(tenant, "Saved")
    late_reader = TenantResolver(
        directory_get=lambda d: None, database_get=lambda d: read_before_the_save
    )
    assert late_reader.lookup(domain) == read_before_the_save  # what it read, for itself
    assert _name(directory_get(domain)) == "Saved"  # but not for everyone else


def test_a_status_change_is_not_undone_by_a_profile_save_read_before_it(tenants) -> None:
    tenant = tenants.create()
    domain = f"{tenant.slug}.stelly.test"
    saved = _rename(tenant, "Before closing")
    with transaction() as conn:
        conn.execute("update tenants set status = 'deleting' where id = %s", [tenant.id])
        deleting = tenant_by_slug(conn, tenant.slug)
    assert directory_put(domain, deleting) is True
    assert directory_put(domain, saved) is False
    assert directory_get(domain).status == "deleting"


def test_an_entry_whose_update_was_lost_ages_out(tenants) -> None:
    """A save whose directory write never happened (a crash after the commit)."""
    tenant = tenants.create()
    domain = f"{tenant.slug}.stelly.test"
    _rename(tenant, "Written")
    with transaction() as conn:  # the save of "Lost", without its directory write
        conn.execute(
            "update tenants set settings = %s where id = %s",
            [Jsonb({"business_name": "Lost", "currency": "EUR"}), tenant.id],
        )
    assert _name(TenantResolver().lookup(domain)) == "Written"  # the entry is still young
    aged = TenantResolver(directory_get=lambda d: directory_get(d, max_age_s=0))
    assert _name(aged.lookup(domain)) == "Lost"  # read again from Postgres...
    assert _name(directory_get(domain)) == "Lost"  # ...and the entry renewed with it


def test_a_save_stands_when_the_directory_cannot_be_written(api_with_storage_down) -> None:
    """Postgres has the change: the client must not be told to retry it (and then get 412)."""
    api, tenant = api_with_storage_down
    settings = {**default_settings("Saved Anyway"), "currency": "GBP"}
    response = api.put("/v1/admin/settings", json=settings, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    with transaction() as conn:
        assert _name(tenant_by_slug(conn, tenant.slug)) == "Saved Anyway"


def test_a_stalled_directory_costs_a_storefront_a_second_not_a_minute(
    client, tenants, table_storage_proxy: StallingProxy
) -> None:
    # Table Storage accepting connections and then silent: the lookup falls back to Postgres
    # after one short try instead of 3 x 10 s (and does not try to refill it).
    tenant = tenants.create()
    host = f"{tenant.slug}.stelly.test"
    assert client.get("/api/v1/store/config", host=host).status_code == 200
    resolver.invalidate(host)  # its 5 s local entry expired
    table_storage_proxy.stalled.set()
    answers = answered_within(15, lambda: client.get("/api/v1/store/config", host=host))
    table_storage_proxy.stalled.clear()
    assert answers, "the storefront still waits on the stalled directory"
    assert answers[0].status_code == 200


@pytest.mark.parametrize(
    "steps",
    [("mark_deleting", "remove_directory"), DEPROVISION_STEPS],
    ids=["while deleting", "after the tombstone"],
)
def test_a_late_refill_never_reopens_a_deleted_restaurant(shop: Shop, steps: tuple) -> None:
    # Another instance read the restaurant (active) from Postgres just before its deletion began;
    # its refill of the directory lands afterwards. Deletion overwrites entries instead of
    # removing them, so the revision check still refuses the older record.
    read_before_deletion = _lookup_database(shop.host)
    assert read_before_deletion is not None and read_before_deletion.status == "active"
    for step in steps:
        assert run_deprovision_step(step, shop.slug, "test-op")["ok"], step
    late_reader = TenantResolver(
        directory_get=lambda d: None, database_get=lambda d: read_before_deletion
    )
    late_reader.lookup(shop.host)
    resolver.invalidate(shop.host)  # this instance's entry expired meanwhile
    assert shop.post_order().status_code == 410
    assert directory_get(shop.host).status in ("deleting", "deleted")


def test_a_save_whose_directory_write_lands_after_deletion_began_cannot_reopen_it(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    late_writes: list[tuple[str, TenantRecord]] = []
    monkeypatch.setattr(
        tenant_profile, "directory_put", lambda d, record: late_writes.append((d, record))
    )
    update_tenant_profile(
        tenant_id=shop.tenant.id,
        settings={**shop.tenant.settings, **default_settings("Saved before closing")},
    )
    monkeypatch.undo()
    for step in ("mark_deleting", "remove_directory"):
        assert run_deprovision_step(step, shop.slug, "test-op")["ok"], step
    for domain, record in late_writes:  # the save's own directory write, arriving now
        directory_put(domain, record)
    resolver.invalidate(shop.host)
    assert shop.post_order().status_code == 410
