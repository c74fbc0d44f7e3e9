"""A fleet migration batch in flight across a deployment: the new orchestrator code replays the
history the old release wrote (functions/migration_flows.py before logic 2), and
devhost's engine fails a replay that schedules another activity than the history holds, as the
real host does. Batches carry their logic in their input, so an old batch replays as it ran.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest
from azure.durable_functions import OrchestrationRuntimeStatus as Status

from tests.devhost.durable_fixtures import (  # noqa: F401
    ClientLoop,
    EngineHost,
    functions_of,
    loop_fixture,
    start,
)

REPO = Path(__file__).resolve().parents[2]


class _PlainBlueprint:
    """Stands in for df.Blueprint so the module's orchestrators stay plain generator functions."""

    def orchestration_trigger(self, **_: Any):
        return lambda fn: fn

    def activity_trigger(self, **_: Any):
        return lambda fn: fn


def _load_flows(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__["_PlainBlueprint"] = _PlainBlueprint
    exec(compile(source.replace("bp = df.Blueprint()", "bp = _PlainBlueprint()"), name, "exec"),
         module.__dict__)  # fmt: skip
    return module


# The orchestrators as the release before batch logic 2 shipped them (3a2732d), kept as text:
# the suite must not need git history (CI may check out one commit).
_OLD_SOURCE = (Path(__file__).parent / "migration_flows_logic1.py.txt").read_text()
OLD_FLOWS = _load_flows(_OLD_SOURCE, "old_migration_flows")
NEW_FLOWS = _load_flows((REPO / "functions/migration_flows.py").read_text(), "new_migration_flows")

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# Set while the new release runs: episodes from then on run today's orchestrator code.
_deployed = threading.Event()
_migrate_calls: list[str] = []
# The call of fleet_migrate_schema during which the new release starts: (schema, nth call of it).
_deploy_at: list[tuple[str, int]] = []


@app.orchestration_trigger(context_name="context")
def fleet_migration_batch(context: df.DurableOrchestrationContext):
    code = NEW_FLOWS if _deployed.is_set() else OLD_FLOWS
    return (yield from code.fleet_migration_batch(context))


@app.activity_trigger(input_name="work")
def fleet_migrate_schema(work: dict) -> dict:
    """A `locked` schema keeps failing transiently (a lost connection every time); the others
    migrate."""
    schema = work["schema"]
    _migrate_calls.append(schema)
    if (schema, _migrate_calls.count(schema)) in _deploy_at:
        _deployed.set()  # the new release starts while the old code's redo is under way
    if "locked" in schema:
        raise ConnectionError("server closed the connection unexpectedly")
    return {"schema": schema, "slug": schema.removeprefix("tenant_"), "status": "migrated",
            "version": 6, "error": None}  # fmt: skip


@app.activity_trigger(input_name="work")
def fleet_record_gave_up(work: dict) -> dict:
    return {"schema": work["schema"], "slug": None, "status": "failed", "version": None,
            "error": work["error"]}  # fmt: skip


@pytest.fixture
def host(loop: ClientLoop) -> Iterator[EngineHost]:
    _deployed.clear()
    _migrate_calls.clear()
    _deploy_at.clear()
    engine_host = EngineHost(loop, functions=functions_of(app)).start()
    yield engine_host
    engine_host.stop()


def test_a_fleet_batch_redoing_a_failed_window_across_the_deploy_replays_deterministically(
    host: EngineHost,
) -> None:
    # A one-schema window failed under the old code, which redoes it singly; the deploy lands
    # during the redo.
    schema = "tenant_upgrade_locked"
    _deploy_at.append((schema, 5))  # RETRY makes 4 attempts: the 5th is the old code's redo
    work = {"schemas": [schema], "max_parallel": 1, "operation": "migration-upgrade"}
    status = host.wait_for(start(host, "fleet_migration_batch", work), timeout=60)
    assert _deployed.is_set()  # the deploy did land while the old code's redo was under way
    assert status.runtime_status == Status.Completed, (status.runtime_status, status.output)
    assert [f["schema"] for f in status.output["failures"]] == [schema]


def test_a_fleet_batch_whose_singly_redone_window_spans_the_deploy_keeps_the_migrated_schemas(
    host: EngineHost,
) -> None:
    # The old code was redoing a window schema by schema (one had run out of retries, the next
    # was under way) when the deploy landed: the migrated ones still count as migrated.
    first, locked, last = "tenant_upgrade_a", "tenant_upgrade_locked_b", "tenant_upgrade_c"
    _deploy_at.append((last, 2))  # the old code's redo reached the window's last schema
    work = {"schemas": [first, locked, last], "max_parallel": 3, "operation": "migration-upgrade"}
    status = host.wait_for(start(host, "fleet_migration_batch", work), timeout=60)
    assert _deployed.is_set()
    assert status.runtime_status == Status.Completed, (status.runtime_status, status.output)
    assert status.output["migrated"] == 2
    assert [f["schema"] for f in status.output["failures"]] == [locked]
