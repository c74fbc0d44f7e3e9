"""What an operator sees of the background paths no request starts (timers, the blob trigger,
fleet activities): log lines with the restaurant in their `tenant` field, as README "Traces and
metrics" promises for every `stelly.*` line, and failed schemas counted once per run.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from psycopg import sql

from shared import migrate
from shared.db import transaction
from shared.logs import ContextFilter
from shared.provisioning import audit as audit_module
from shared.provisioning import fleet as fleet_steps
from shared.provisioning.requests import schema_for
from tests.devhost.durable_fixtures import loop_fixture  # noqa: F401
from tests.housekeeping_helpers import engine_fixture, run_housekeeping  # noqa: F401
from tests.image_fixtures import deliver, encoded, grant_for, photo, put_with_grant, uploads_name
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.storage_fixtures import unreachable_table
from tests.storefront_helpers import build_small_menu, owner_api
from tests.test_fleet_migration import behind_fixture, poison  # noqa: F401
from tests.test_observability import captured  # noqa: F401  (in-memory metrics SDK)
from tests.test_retention import _as_before_0006, backdate_snapshots, toggle_sold_out
from tests.test_telemetry import Captured


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog on the `stelly` loggers, with the context fields every exporting handler adds."""
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO, logger="stelly")
    return caplog


def naming(logs: pytest.LogCaptureFixture, logger: str, text: str) -> list[logging.LogRecord]:
    return [r for r in logs.records if r.name == logger and text in r.getMessage()]


# --- the tenant field of the new background lines ------------------------------------------


def test_housekeeping_retention_lines_carry_the_restaurant_in_the_tenant_field(
    shop: Shop, app_functions, engine, logs: pytest.LogCaptureFixture
) -> None:
    toggle_sold_out(shop, 2)
    backdate_snapshots(shop.schema, 31)
    _as_before_0006(shop.schema)
    body = shop.order_body(shop.cola_line())
    body["fulfilment"] = {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0199"}
    old = shop.place(body)
    with transaction() as conn:
        conn.execute(
            sql.SQL(
                "update {}.orders set placed_at = placed_at - interval '31 days' where id = %s"
            ).format(sql.Identifier(shop.schema)),
            [old["id"]],
        )

    run_housekeeping(app_functions, engine)

    ours = naming(logs, "stelly.timers", f" {shop.slug}")
    assert any("kept" in r.getMessage() for r in ours), [r.getMessage() for r in ours]
    assert any("phone numbers" in r.getMessage() for r in ours), [r.getMessage() for r in ours]
    assert [r.tenant for r in ours] == [shop.slug] * len(ours), [r.getMessage() for r in ours]


def test_a_used_upload_url_quarantine_line_carries_the_restaurant(
    client, tenants, auth_header, app_functions, logs: pytest.LogCaptureFixture
) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    grant = grant_for(api, item["id"])
    assert put_with_grant(grant, encoded(photo(800, 600), "JPEG")).status_code == 201
    deliver(app_functions, uploads_name(grant))
    assert put_with_grant(grant, encoded(photo(300, 900), "PNG")).status_code == 201
    deliver(app_functions, uploads_name(grant))

    [warning] = naming(logs, "stelly.images", "used already")
    assert warning.levelno == logging.WARNING
    assert warning.tenant == tenant.slug


def test_the_fleet_give_up_audit_failure_line_carries_the_restaurant(
    behind: str, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    slug, schema = behind, schema_for(behind)
    poison(slug, migrate.latest_version("tenant"))
    monkeypatch.setattr(audit_module, "table", unreachable_table)
    fleet_steps.record_gave_up(schema, f"op-{uuid.uuid4().hex[:8]}", "OperationalError: lost")

    [line] = naming(logs, "stelly.migrations", "was not written")
    assert line.levelno == logging.ERROR
    assert line.tenant == slug


# --- stelly.migrations.failed -------------------------------------------------------------


def test_one_failed_schema_is_counted_once_however_often_its_audit_retry_runs(
    captured: Captured,  # noqa: F811
    behind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Table Storage down: every retry of the failed schema's activity raises AuditNotWritten.
    slug, schema = behind, schema_for(behind)
    operation = f"op-{uuid.uuid4().hex[:8]}"
    poison(slug, migrate.latest_version("tenant"))
    monkeypatch.setattr(audit_module, "table", unreachable_table)

    def failed_count() -> int:
        points = captured.points("stelly.migrations.failed")
        return sum(p.value for p in points if p.attributes.get("stelly.schema") == schema)

    before = failed_count()
    # fleet_migrate_schema as call_activity_with_retry runs it (RETRY: 4 attempts), each
    # failing at its audit write; then fleet_record_gave_up, as the orchestrator calls it.
    for _ in range(4):
        with pytest.raises(fleet_steps.AuditNotWritten):
            fleet_steps.migrate_one(schema, operation)
    outcome = fleet_steps.record_gave_up(schema, operation, "AuditNotWritten: refused")
    assert outcome["status"] == "failed", outcome

    assert failed_count() - before == 1
