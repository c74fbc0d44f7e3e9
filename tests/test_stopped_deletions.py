"""A deletion that stopped at a step is resumed by the hourly housekeeping, as a second DELETE
would: a restaurant left `deleting` would otherwise keep its customers' data for good."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from azure.durable_functions import OrchestrationRuntimeStatus

from functions.stopped_deletions import resume_stopped_deletions
from shared.provisioning.registry import deleting_slugs, provisioning_state
from tests.conftest import execute
from tests.devhost.devhost_process import REPO
from tests.devhost.durable_fixtures import ClientLoop, EngineHost, loop_fixture  # noqa: F401
from tests.housekeeping_helpers import app_engine_fixture, run_housekeeping  # noqa: F401
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401


def _set_status(slug: str, status: str) -> None:
    execute("update public.tenants set status = %s where slug = %s", [status, slug])


def _schema_exists(schema: str) -> bool:
    return bool(execute("select 1 from pg_namespace where nspname = %s", [schema]))


def test_the_housekeeping_finishes_a_deletion_that_stopped(
    shop: Shop, app_functions: list, app_engine: EngineHost
) -> None:
    """A restaurant with an order is left `deleting` and no deletion runs (one ended at a step
    that could not proceed); the next hourly run deletes it, and the run after that leaves the
    tombstone as it is."""
    assert shop.place()["id"]
    _set_status(shop.slug, "deleting")  # what the deletion's first step writes

    run_housekeeping(app_functions, app_engine)
    done = app_engine.wait_for(f"deprovision-{shop.slug}")

    assert done.runtime_status == OrchestrationRuntimeStatus.Completed, done.output
    assert provisioning_state(shop.slug)["status"] == "deleted"
    assert not _schema_exists(shop.schema)  # its orders and customers' phone numbers with it
    run_housekeeping(app_functions, app_engine)
    again = app_engine.run(app_engine.client.get_status(f"deprovision-{shop.slug}"))
    assert again.created_time == done.created_time  # not started again
    assert provisioning_state(shop.slug)["status"] == "deleted"


class StandInClient:
    """Answers get_status with `status` (running `on_status` first) and records starts: which
    status the task hub reports at a given moment cannot be set on demand with a real one."""

    def __init__(self, status: OrchestrationRuntimeStatus | None, on_status=None) -> None:
        self.status = status
        self.on_status = on_status
        self.started: list[tuple[str, str, dict]] = []

    async def get_status(self, instance_id: str) -> SimpleNamespace:
        if self.on_status:
            self.on_status()
        return SimpleNamespace(runtime_status=self.status)

    async def start_new(self, name: str, instance_id: str, payload: dict) -> None:
        self.started.append((name, instance_id, payload))


@pytest.mark.parametrize(
    ("status", "resumed"),
    [
        (OrchestrationRuntimeStatus.Running, False),
        (OrchestrationRuntimeStatus.Pending, False),
        (OrchestrationRuntimeStatus.Failed, True),
        (OrchestrationRuntimeStatus.Terminated, True),
        (None, True),  # purged, or never started
    ],
)
def test_only_a_deletion_that_is_not_running_is_resumed(
    shop: Shop, status: OrchestrationRuntimeStatus | None, resumed: bool
) -> None:
    _set_status(shop.slug, "deleting")
    client = StandInClient(status)

    asyncio.run(resume_stopped_deletions(client))

    started = ("deprovision_tenant", f"deprovision-{shop.slug}", {"slug": shop.slug})
    assert (started in client.started) is resumed
    assert all(start[1] == f"deprovision-{shop.slug}" for start in client.started)


def test_a_deletion_that_finished_while_it_was_looked_up_is_not_started_again(shop: Shop) -> None:
    """The deletion ends between the list and the status read: its tombstone stays."""
    _set_status(shop.slug, "deleting")
    client = StandInClient(
        OrchestrationRuntimeStatus.Completed, on_status=lambda: _set_status(shop.slug, "deleted")
    )

    asyncio.run(resume_stopped_deletions(client))

    assert client.started == []
    assert provisioning_state(shop.slug)["status"] == "deleted"


class FailingFirstStart(StandInClient):
    """Reports every deletion as not running; its first start fails (the task hub refused it)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.failed: str | None = None

    async def start_new(self, name: str, instance_id: str, payload: dict) -> None:
        if self.failed is None:
            self.failed = payload["slug"]
            raise RuntimeError("task hub unavailable")
        await super().start_new(name, instance_id, payload)


def test_one_deletion_that_cannot_be_resumed_does_not_hold_back_the_others(tenants) -> None:
    first, second = tenants.create(), tenants.create()
    for tenant in (first, second):
        _set_status(tenant.slug, "deleting")
    stopped = set(deleting_slugs())
    client = FailingFirstStart()

    resumed = asyncio.run(resume_stopped_deletions(client))

    assert client.failed in stopped
    assert (
        set(resumed) == {start[2]["slug"] for start in client.started} == stopped - {client.failed}
    )
    assert {first.slug, second.slug} - {client.failed} <= set(resumed)


def test_the_housekeeping_resumes_only_restaurants_being_deleted(tenants) -> None:
    """A restaurant being created, a failed, a suspended or an active one and a tombstone are
    never started on, even when the task hub knows no deletion for them (its history purged
    after 30 days); only the one still `deleting` is."""
    statuses = ("provisioning", "failed", "suspended", "active", "deleted", "deleting")
    slugs = {status: tenants.create(status=status).slug for status in statuses}
    client = StandInClient(None)

    resumed = asyncio.run(resume_stopped_deletions(client))

    started = {start[2]["slug"] for start in client.started}
    assert {status for status, slug in slugs.items() if slug in started} == {"deleting"}
    assert slugs["deleting"] in resumed
    for status in statuses[:-1]:
        assert provisioning_state(slugs[status])["status"] == status


def test_the_apps_task_hub_refuses_to_start_an_instance_that_is_running() -> None:
    """What keeps a resumed deletion and a DELETE from making two runs in Azure (devhost's engine
    refuses a running id whatever host.json says, so only this reads the setting)."""
    durable = json.loads((REPO / "host.json").read_text())["extensions"]["durableTask"]
    assert durable.get("overridableExistingInstanceStates") == "NonRunningStates", durable
