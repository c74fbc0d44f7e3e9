"""Races in the back office (option names, the manager's day, menu versions, resumed
deletions), each forced one way: a lock held by the test, or a commit made by another request
exactly between two reads of one request (a hook in the request's own thread, so no sleep
decides the order)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.durable_functions import OrchestrationRuntimeStatus

from functions import admin_menu_publishing, admin_orders
from functions.stopped_deletions import resume_stopped_deletions
from shared.db import tenant_transaction, transaction
from shared.menus.snapshot_retention import purge_unused_snapshots
from shared.provisioning.deprovision import run_deprovision_step
from shared.provisioning.registry import provisioning_state
from tests.conftest import execute, lock_waiters, run_in_turn_behind
from tests.devhost.durable_fixtures import EngineHost, loop_fixture  # noqa: F401
from tests.housekeeping_helpers import app_engine_fixture  # noqa: F401
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401  (shop)
from tests.storefront_helpers import Api, build_small_menu, ok, owner_api

VERSIONS = "/v1/admin/menu/versions"


# -- option names in one group, case aside ------------------------------------------------


def _wait_for_menu_writers(count: int, timeout_s: float = 10) -> None:
    """Until `count` menu writers wait: on the group's row or on the menu writers' turn."""
    deadline = time.monotonic() + timeout_s
    while lock_waiters("modifier_groups") + lock_waiters("stelly.menu") < count:
        assert time.monotonic() < deadline, f"{count} menu writers never waited for a lock"
        time.sleep(0.02)


def _in_turn_behind_the_group(schema: str, group_id: str, *jobs: Callable[[], object]) -> None:
    """Hold the group's row (as a writer of it: an option's foreign key still passes); start
    each job once the ones before it wait; let go."""
    threads = [threading.Thread(target=job) for job in jobs]
    with tenant_transaction(schema) as conn:
        conn.execute("select 1 from modifier_groups where id = %s for no key update", [group_id])
        for waiting, thread in enumerate(threads, start=1):
            thread.start()
            _wait_for_menu_writers(waiting)
    for thread in threads:
        thread.join(30)


def _group_names(schema: str, group_id: str) -> list[str]:
    rows = execute(
        f"select name from {schema}.modifier_options"
        " where group_id = %s and deleted_at is null order by rank, name",
        [group_id],
    )
    return [row["name"] for row in rows]


def test_two_options_added_at_once_with_names_one_up_to_case_are_one_option(
    client, tenants, auth_header
) -> None:
    """ "Mayo" and "mayo" added to one group at once: one 201, one 409. Both the menu writers'
    turn (draft_transaction) and the group's row lock (add_option) serialise them; without
    both, each reads the names before the other's insert and both are created."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    group = build_small_menu(api)["group"]
    answers: list = []

    def add(name: str):
        path = f"/v1/admin/menu/groups/{group['id']}/options"
        return lambda: answers.append(api.post(path, json={"name": name}))

    _in_turn_behind_the_group(tenant.schema_name, group["id"], add("Mayo"), add("mayo"))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert _group_names(tenant.schema_name, group["id"]) == ["Regular", "Large", "Mayo"]


def test_a_rename_racing_an_add_into_the_same_name_is_one_option(
    client, tenants, auth_header
) -> None:
    """ "Large" renamed to "Mayo" while "MAYO" is added: one of them is a 409."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    group = build_small_menu(api)["group"]
    large = group["options"][1]
    answers: list = []

    def rename():
        path = f"/v1/admin/menu/options/{large['id']}"
        answers.append(api.patch(path, json={"name": "Mayo"}))

    def add():
        path = f"/v1/admin/menu/groups/{group['id']}/options"
        answers.append(api.post(path, json={"name": "MAYO"}))

    _in_turn_behind_the_group(tenant.schema_name, group["id"], rename, add)
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    assert _group_names(tenant.schema_name, group["id"]) == ["Regular", "Mayo"]


# -- the manager's day: summary and page in one transaction --------------------------------


def test_an_order_committed_between_the_summary_and_the_page_is_in_both_or_neither(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's summary and its page come from one snapshot: an order a customer places while
    the manager's request reads is in neither (the next refresh shows it in both), never listed
    under a summary that leaves it out."""
    shop.place(shop.order_body(shop.cola_line()))
    real_day_orders = admin_orders.day_orders
    placed: list[dict] = []

    def another_order_commits_first(*args: Any, **kwargs: Any):
        if not placed:  # a customer's order commits between the manager's two reads
            placed.append(shop.place(shop.order_body(shop.cola_line(2))))
        return real_day_orders(*args, **kwargs)

    monkeypatch.setattr(admin_orders, "day_orders", another_order_commits_first)
    day = shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()).json()
    listed, summary = day["orders"], day["summary"]
    assert placed and summary["orders"] == len(listed) == 1, summary
    assert summary["sales"][0]["total"] == sum(o["total"] for o in listed), summary
    monkeypatch.undo()
    refreshed = shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner())
    assert refreshed.json()["summary"]["orders"] == len(refreshed.json()["orders"]) == 2


# -- resuming a stopped deletion ------------------------------------------------------------


def test_a_resumed_deletion_meeting_one_that_finishes_leaves_the_tombstone(shop: Shop) -> None:
    """A deletion's `tombstone` and a resumed one's `mark_deleting` meet on the tenants row,
    tombstone first: the row stays `deleted` (mark_deleting's update takes only rows not yet
    deleted, re-checked once the row is free); without that condition it goes back to
    `deleting`, and the slug's data would be outside every purge."""
    execute("update public.tenants set status = 'deleting' where slug = %s", [shop.slug])
    outcomes: dict[str, dict] = {}

    def step(name: str, operation: str) -> Callable[[], None]:
        return lambda: outcomes.update({name: run_deprovision_step(name, shop.slug, operation)})

    run_in_turn_behind(
        None,
        "select 1 from tenants where slug = %s for update",
        "tenants",
        step("tombstone", "deprovision-a"),
        step("mark_deleting", "deprovision-b"),
        params=[shop.slug],
    )
    assert outcomes["mark_deleting"] == {"ok": True, "detail": "already deleted"}, outcomes
    assert provisioning_state(shop.slug)["status"] == "deleted"


class DeleteArrivesMidway:
    """The real durable client, except that a DELETE starts the deletion just after the
    housekeeping read its status (not running): the moment between the check and the start."""

    def __init__(self, engine: EngineHost, slug: str) -> None:
        self.client = engine.client
        self.slug = slug

    async def get_status(self, instance_id: str):
        status = await self.client.get_status(instance_id)
        await self.client.start_new("deprovision_tenant", instance_id, {"slug": self.slug})
        return status

    async def start_new(self, name: str, instance_id: str, payload: dict) -> None:
        await self.client.start_new(name, instance_id, payload)


def test_a_resume_racing_a_delete_of_the_same_restaurant_runs_one_deletion(
    shop: Shop, app_engine: EngineHost, caplog: pytest.LogCaptureFixture
) -> None:
    """The housekeeping finds `deprovision-<slug>` not running; a DELETE starts it; then the
    housekeeping starts it too. The task hub refuses a running id (NonRunningStates), so the
    housekeeping's start fails, is logged and skipped: one deletion runs. The app's own check
    (get_status, then start_new) does not close this gap; the refusal does."""
    caplog.set_level(logging.INFO, logger="stelly")
    execute("update public.tenants set status = 'deleting' where slug = %s", [shop.slug])
    instance_id = f"deprovision-{shop.slug}"
    with transaction() as conn:  # the DELETE's run stays at its first step meanwhile
        conn.execute("select 1 from tenants where slug = %s for update", [shop.slug])
        resumed = app_engine.run(
            resume_stopped_deletions(DeleteArrivesMidway(app_engine, shop.slug))
        )
        running = app_engine.run(app_engine.client.get_status(instance_id))
        assert running.runtime_status in (
            OrchestrationRuntimeStatus.Pending,
            OrchestrationRuntimeStatus.Running,
        )
    done = app_engine.wait_for(instance_id)
    assert shop.slug not in resumed
    assert done.runtime_status == OrchestrationRuntimeStatus.Completed, done.output
    assert done.created_time == running.created_time  # the DELETE's run, not a second one
    assert provisioning_state(shop.slug)["status"] == "deleted"
    logged = f"could not resume the deletion of {shop.slug}"
    [refused] = [record for record in caplog.records if record.getMessage() == logged]
    assert refused.levelno == logging.ERROR and "already exists" in str(refused.exc_info[1])


# -- one menu version: 404 or 410 from two reads --------------------------------------------


def _between_the_two_reads(monkeypatch: pytest.MonkeyPatch, happen: Callable[[], None]) -> None:
    """Make `happen` commit after admin_menu_version's row read and before its head read."""
    real_latest_head = admin_menu_publishing.latest_head

    def latest_head(conn):
        happen()
        return real_latest_head(conn)

    monkeypatch.setattr(admin_menu_publishing, "latest_head", latest_head)


def test_a_version_purged_between_the_two_reads_is_answered_as_it_was_read(
    client, tenants, auth_header, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 1 purged between the row read and the head read: the answer is the row as its
    snapshot holds it (200), and the next request a 410."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    for _ in range(2):
        ok(api.post("/v1/admin/menu/publish"), 201)

    def purge() -> None:
        with tenant_transaction(tenant.schema_name) as conn:
            assert purge_unused_snapshots(conn, older_than_days=0) == 1

    _between_the_two_reads(monkeypatch, purge)
    assert ok(api.get(f"{VERSIONS}/1"))["version"] == 1
    monkeypatch.undo()
    gone = api.get(f"{VERSIONS}/1")
    assert gone.status_code == 410, gone.text


def test_a_version_published_between_the_two_reads_is_not_called_no_longer_kept(
    client, tenants, auth_header, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET versions/2 while version 2's publish commits between the row read and the head read:
    both come from one snapshot, so it is not yet published (404), never "no longer kept"."""
    tenant = tenants.create()
    api: Api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    ok(api.post("/v1/admin/menu/publish"), 201)
    _between_the_two_reads(monkeypatch, lambda: ok(api.post("/v1/admin/menu/publish"), 201))
    answer = api.get(f"{VERSIONS}/2")
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"] == "No menu version 2 (the newest is 1)"


def test_the_versions_list_and_its_live_version_come_from_one_snapshot(
    client, tenants, auth_header, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish committing between the live-version read and the page read: the page does not
    list a version newer than the live one it names."""
    api = owner_api(client, tenants.create(), auth_header)
    build_small_menu(api)
    ok(api.post("/v1/admin/menu/publish"), 201)
    real_history = admin_menu_publishing.version_history

    def published_meanwhile(conn, **kwargs):
        ok(api.post("/v1/admin/menu/publish"), 201)
        return real_history(conn, **kwargs)

    monkeypatch.setattr(admin_menu_publishing, "version_history", published_meanwhile)
    listed = ok(api.get(VERSIONS))
    assert (listed["live_version"], [v["version"] for v in listed["versions"]]) == (1, [1])
