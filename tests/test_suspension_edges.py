"""Suspension at its edges: races with provisioning and deletion, admins racing each other,
every domain and every path of a suspended restaurant, and an audit trail out of reach."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from shared.db import transaction
from shared.directory import directory_get
from shared.provisioning import audit as audit_module
from shared.provisioning import steps
from shared.provisioning.compensation import run_undo, undo_steps
from shared.provisioning.deprovision import run_deprovision_step
from shared.provisioning.requests import (
    PROVISION_STEPS,
    ProvisionJob,
    ProvisionRequest,
    provision_job,
)
from shared.provisioning.steps import run_step
from shared.provisioning.suspension import set_suspension
from shared.tenancy import TenantResolver
from tests.conftest import execute, wait_for_lock_waiters
from tests.devhost.durable_fixtures import EngineHost, loop_fixture  # noqa: F401
from tests.housekeeping_helpers import app_engine_fixture  # noqa: F401 (fixtures)
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401 (fixtures)
from tests.platform_helpers import provision_body, unique_slug
from tests.storage_fixtures import unreachable_table
from tests.storefront_helpers import error_paths, ok

PLATFORM_HOST = "stelly.test"
SUSPENDED = "is suspended"


def _path(slug: str) -> str:
    return f"/api/v1/platform/tenants/{slug}/suspension"


def _status(slug: str) -> tuple[str, str | None]:
    row = execute("select status, status_reason from tenants where slug = %s", [slug])[0]
    return row["status"], row["status_reason"]


@pytest.fixture
def provisioned(migrated_public: None) -> Iterator[ProvisionJob]:
    """A restaurant provisioned step by step (as the orchestration does), deleted afterwards."""
    request = ProvisionRequest.model_validate(provision_body(unique_slug("susp")))
    made = provision_job(request)
    job = ProvisionJob(made.request, made.fingerprint, uuid.uuid4().hex)
    for step in PROVISION_STEPS:
        assert run_step(step, job, "provision-op")["ok"], step
    yield job
    for step in ("mark_deleting", "remove_directory", "drop_schema", "tombstone"):
        run_deprovision_step(step, job.slug, "cleanup")
    execute("delete from tenants where slug = %s", [job.slug])


def test_a_retried_activate_after_a_suspension_does_not_fail_the_restaurant(
    provisioned: ProvisionJob, client, auth_header
) -> None:
    """Suspending is allowed as soon as the row reads `active`, while provision-<slug> may still
    be running (activate committed, then its directory write failed and is retried, or the host
    replays the activity). The retry finds its step done and leaves the restaurant suspended,
    never failed (were it to fail, the orchestration's undo, run here, would release it)."""
    job = provisioned
    admin = auth_header("platform_admin")
    ok(client.put(_path(job.slug), host=PLATFORM_HOST, headers=admin, json={"reason": "Unpaid"}))

    retried = run_step("activate", job, "provision-op")
    if not retried["ok"]:
        done = list(PROVISION_STEPS[:-1])
        for undo in undo_steps([*done, "activate"]):
            run_undo(undo, job, "provision-op", f"activate failed: {retried['error']}")

    assert _status(job.slug) == ("suspended", "Unpaid")
    kept = execute(
        "select count(*) as n from tenant_domains d join tenants t on t.id = d.tenant_id"
        " where t.slug = %s",
        [job.slug],
    )
    assert kept[0]["n"] == len(job.domains)


@pytest.mark.usefixtures("migrated_public")
def test_a_provisioning_that_ends_on_a_suspended_restaurant_says_suspended(
    app_engine: EngineHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """activate commits `active`, a platform admin suspends the restaurant at once, and the
    step's directory write fails, so the step runs again and leaves it suspended. The finished
    operation's output names the status the restaurant is in, not `active`."""
    request = ProvisionRequest.model_validate(provision_body(unique_slug("susp")))
    job = provision_job(request)
    write_directory = steps._put_directory

    def suspended_then_unreachable(record, domains) -> None:
        if record.status == "active" and _status(job.slug)[0] == "active":
            set_suspension(job.slug, reason="Unpaid", by="ops-ada")
            raise ConnectionError("the directory is out of reach")
        write_directory(record, domains)

    monkeypatch.setattr(steps, "_put_directory", suspended_then_unreachable)
    instance_id = f"provision-{job.slug}"
    app_engine.run(app_engine.client.start_new("provision_tenant", instance_id, job.as_input()))
    try:
        done = app_engine.wait_for(instance_id)
        assert done.runtime_status.name == "Completed", done.output
        assert done.output["status"] == "suspended"
        assert _status(job.slug) == ("suspended", "Unpaid")
        assert directory_get(job.domains[0]).status == "suspended"
    finally:
        for step in ("mark_deleting", "remove_directory", "drop_schema", "tombstone"):
            run_deprovision_step(step, job.slug, "cleanup")
        execute("delete from tenants where slug = %s", [job.slug])


def test_a_suspension_made_while_the_audit_trail_is_unreachable_answers_200(
    shop: Shop, monkeypatch
) -> None:
    """The change is made in Postgres, so the answer is 200 with the restaurant as it is now,
    its audit empty and `audit_unavailable` true, rather than a 503 that would have the admin
    retry a change already made."""
    monkeypatch.setattr(audit_module, "table", unreachable_table)
    admin = shop.auth("platform_admin")
    response = shop.client.put(
        _path(shop.slug), host=PLATFORM_HOST, headers=admin, json={"reason": "Unpaid"}
    )
    assert _status(shop.slug) == ("suspended", "Unpaid")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["status"], answer["audit"], answer["audit_unavailable"]) == (
        "suspended",
        [],
        True,
    )


def test_a_put_with_a_null_reason_never_reinstates(shop: Shop) -> None:
    """PUT needs `{"reason"}` (one line, 1-200 characters). set_suspension reads reason=None
    as "reinstate", so a PUT whose null reason got through would lift a suspension."""
    admin = shop.auth("platform_admin")
    ok(shop.client.put(_path(shop.slug), host=PLATFORM_HOST, headers=admin,
                       json={"reason": "Complaint under review"}))  # fmt: skip
    for body in ({"reason": None}, {"reason": "\u200b"}, {"reason": ["Audit"]}):
        response = shop.client.put(_path(shop.slug), host=PLATFORM_HOST, headers=admin, json=body)
        assert error_paths(response) == ["reason"], response.text
    assert _status(shop.slug) == ("suspended", "Complaint under review")


def test_every_other_path_refuses_uncacheably_and_serves_again_after_reinstatement(
    shop: Shop,
) -> None:
    """ "a suspended restaurant's every host answers 403" beyond the paths
    test_suspension.py tries (the menu, even revalidated; upload URLs; resuming orders;
    a table's QR code), each `no-store`, so Front Door keeps no refusal past reinstatement; the
    menu Front Door caches for a minute is served again right after it."""
    client, owner = shop.client, shop.owner()
    menu = ok(client.get("/api/v1/store/menu", host=shop.host))
    assert menu
    admin = shop.auth("platform_admin")
    ok(client.put(_path(shop.slug), host=PLATFORM_HOST, headers=admin, json={"reason": "Unpaid"}))
    item = next(iter(shop.menu.items.values()))
    upload = {"content_type": "image/jpeg"}
    for refused in (
        client.get("/api/v1/store/menu", host=shop.host),
        client.get("/api/v1/store/menu", host=shop.host, headers={"If-None-Match": "*"}),
        client.post(f"/api/v1/admin/menu/items/{item}/image-upload", host=shop.host,
                    headers=owner, json=upload),
        client.post("/api/v1/admin/branding/logo/image-upload", host=shop.host, headers=owner,
                    json=upload),
        client.get("/api/v1/admin/settings", host=shop.host, headers=owner),
        client.delete("/api/v1/kitchen/pause", host=shop.host, headers=shop.staff()),
        client.get("/api/v1/store/tables/any-token", host=shop.host),
    ):  # fmt: skip
        assert refused.status_code == 403, refused.text
        assert SUSPENDED in refused.json()["detail"]
        assert refused.headers.get("Cache-Control") == "no-store"
    ok(client.delete(_path(shop.slug), host=PLATFORM_HOST, headers=admin))
    assert ok(client.get("/api/v1/store/menu", host=shop.host)) == menu


def test_admins_racing_leave_the_directory_saying_what_postgres_says(
    client, tenants, auth_header
) -> None:
    """The change is written Postgres first, then the directory, newest revision winning:
    two admins suspending and reinstating at once never leave other instances (which read the
    directory) disagreeing with Postgres."""
    tenant = tenants.create()
    admin = auth_header("platform_admin")
    answers: list[int] = []

    def flip(first: int) -> None:
        for turn in range(6):
            if (first + turn) % 2:
                put = client.put(_path(tenant.slug), host=PLATFORM_HOST, headers=admin,
                                 json={"reason": f"Admin {first}"})  # fmt: skip
                answers.append(put.status_code)
            else:
                answers.append(
                    client.delete(_path(tenant.slug), host=PLATFORM_HOST, headers=admin).status_code
                )

    threads = [threading.Thread(target=flip, args=(first,)) for first in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(answers) == {200}
    status, _ = _status(tenant.slug)
    assert directory_get(f"{tenant.slug}.stelly.test").status == status


def test_a_suspended_restaurant_can_be_deleted_and_never_comes_back(
    client, tenants, auth_header
) -> None:
    """ "it can still be deleted", and a deletion is never undone: after the deletion's
    steps the host answers 410 and neither reinstating nor suspending again moves it."""
    tenant = tenants.create()
    admin = auth_header("platform_admin")
    host = f"{tenant.slug}.stelly.test"
    ok(client.put(_path(tenant.slug), host=PLATFORM_HOST, headers=admin, json={"reason": "Fraud"}))
    for step in ("mark_deleting", "remove_directory", "delete_blobs", "drop_schema", "tombstone"):
        assert run_deprovision_step(step, tenant.slug, "deprovision-op")["ok"], step
    reinstate = client.delete(_path(tenant.slug), host=PLATFORM_HOST, headers=admin)
    suspend = client.put(_path(tenant.slug), host=PLATFORM_HOST, headers=admin,
                         json={"reason": "Fraud"})  # fmt: skip
    assert (reinstate.status_code, suspend.status_code) == (409, 409)
    assert _status(tenant.slug) == ("deleted", None)
    assert client.get("/api/v1/store/config", host=host).status_code == 410
    assert directory_get(host).status == "deleted"


# --- Mutants of set_suspension that tests/test_suspension.py let through -----------------------


def test_every_domain_of_a_restaurant_is_suspended_for_every_instance(
    client, tenants, auth_header
) -> None:
    """ "the directory entry of every domain":
    a fresh resolver, as another instance has, sees each domain suspended, then active again."""
    slug = unique_slug("md")
    domains = [f"{slug}.stelly.test", f"order.{slug}.example.com"]
    tenants.create(slug=slug, domains=domains)
    admin = auth_header("platform_admin")
    ok(client.put(_path(slug), host=PLATFORM_HOST, headers=admin, json={"reason": "Unpaid"}))
    other_instance = TenantResolver()
    for domain in domains:
        assert directory_get(domain).status == "suspended"
        assert other_instance.lookup(domain).status == "suspended"
        assert client.get("/api/v1/store/config", host=domain).status_code == 403
    ok(client.delete(_path(slug), host=PLATFORM_HOST, headers=admin))
    for domain in domains:
        assert TenantResolver().lookup(domain).status == "active"


def test_a_suspension_queued_behind_a_deletion_is_a_409(client, tenants, auth_header) -> None:
    """A restaurant being deleted is a 409 "it has its own operation", also when the
    suspension arrives while mark_deleting holds the row (the row lock: without it the
    suspension then read `active` and wrote `suspended` over `deleting`)."""
    tenant = tenants.create()
    answer = {}

    def suspend() -> None:
        admin = auth_header("platform_admin")
        answer["put"] = client.put(
            _path(tenant.slug), host=PLATFORM_HOST, headers=admin, json={"reason": "Late"}
        )

    thread = threading.Thread(target=suspend)
    with transaction() as conn:
        conn.execute("update tenants set status = 'deleting' where slug = %s", [tenant.slug])
        thread.start()
        wait_for_lock_waiters("tenants")
    thread.join(30)
    assert answer["put"].status_code == 409, answer["put"].text
    assert _status(tenant.slug) == ("deleting", None)


def test_a_replayed_activate_never_makes_a_suspended_restaurant_active(
    provisioned: ProvisionJob, client, auth_header
) -> None:
    """A suspended restaurant is made active only by a reinstatement: after a replayed
    `activate`, Postgres and the directory still say suspended."""
    job = provisioned
    admin = auth_header("platform_admin")
    ok(client.put(_path(job.slug), host=PLATFORM_HOST, headers=admin, json={"reason": "Unpaid"}))
    run_step("activate", job, "provision-op")
    assert _status(job.slug) == ("suspended", "Unpaid")
    assert directory_get(job.domains[0]).status == "suspended"


def test_a_suspension_stands_when_its_audit_row_cannot_be_written(shop: Shop, monkeypatch) -> None:
    """A failed audit write does not fail a change already made in Postgres."""
    monkeypatch.setattr(audit_module, "table", unreachable_table)
    record = set_suspension(shop.slug, reason="Unpaid", by="ops-ada")
    assert (record.status, _status(shop.slug)) == ("suspended", ("suspended", "Unpaid"))
    monkeypatch.undo()
    assert directory_get(shop.host).status == "suspended"
