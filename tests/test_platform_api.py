"""Provisioning and deleting restaurants through the platform API, on devhost's durable engine.

The real function_app runs in a devhost subprocess on the session's Postgres and Azurite; the
orchestrations run through the real azure-functions-durable SDK. Failures are injected with the
development-only `fail_at_step` field (shared/provisioning/failures.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from shared.db import transaction
from shared.directory import directory_get
from shared.images.blobs import ensure_container
from shared.images.targets import ASSETS_CONTAINER, QUARANTINE_CONTAINER
from shared.migrate import latest_version
from shared.provisioning.audit import recent_audit
from shared.provisioning.requests import (
    PROVISION_STEPS,
    ProvisionJob,
    ProvisionRequest,
    provision_job,
    schema_for,
)
from shared.provisioning.steps import run_step
from shared.storage import blob_service
from tests.conftest import IDENTITY
from tests.platform_helpers import (
    PlatformHost,
    directory_slug,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    provision_body,
    provisioning_parked_in_create_schema,
    scalar,
    schema_exists,
    task_hub_rows_mentioning,
    unique_slug,
)

pytestmark = pytest.mark.devhost


def provisioned(host: PlatformHost, slug: str, timeout: float = 30, **fields) -> dict:
    response = host.provision(slug, **fields)
    assert response.status_code == 202, response.text
    return host.wait(response.json()["id"], timeout=timeout)


def test_provision_to_active_and_the_storefront_answers(host: PlatformHost) -> None:
    slug = unique_slug()
    response = host.provision(slug, theme=None)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["id"] == f"provision-{slug}"
    assert response.headers["location"] == body["status_url"]
    assert body["status_url"].endswith(f"/api/v1/platform/operations/provision-{slug}")

    done = host.wait(body["id"])
    assert done["status"] == "completed", done
    assert done["custom_status"]["state"] == "active" and done["custom_status"]["progress"] == 1
    assert done["output"]["domains"] == [f"{slug}.stelly.test"]

    store = host.storefront(slug)
    assert store.status_code == 200, store.text
    assert store.json()["currency"] == "EUR"
    detail = host.request("GET", f"/v1/platform/tenants/{slug}").json()
    assert detail["status"] == "active" and detail["domains"] == [f"{slug}.stelly.test"]
    assert (
        detail["migration"]["version"] == latest_version("tenant") == detail["migration"]["latest"]
    )
    assert detail["last_operation"]["id"] == f"provision-{slug}"
    assert [row["step"] for row in reversed(detail["audit"])] == list(PROVISION_STEPS)
    assert directory_slug(f"{slug}.stelly.test") == slug
    assert scalar(f"select count(*) from {schema_for(slug)}.menu_versions", []) == 1

    listed = host.request("GET", "/v1/platform/tenants", params={"status": "active", "limit": 200})
    assert listed.status_code == 200 and listed.json()["items"]


def test_same_request_is_the_same_operation_and_another_is_a_conflict(host: PlatformHost) -> None:
    slug = unique_slug()
    first = host.provision(slug)
    again = host.provision(slug)
    assert first.status_code == 202 and again.status_code in (200, 202), again.text
    assert again.json()["id"] == first.json()["id"]
    different = host.provision(slug, display_name="Someone else's")
    assert different.status_code == 409, different.text
    assert host.wait(first.json()["id"])["status"] == "completed"

    after = host.provision(slug)
    assert after.status_code == 200 and after.json()["id"] == f"provision-{slug}"
    assert host.provision(slug, currency="USD").status_code == 409
    # Its name under the platform is its own (a slug's, created or not, is never another's).
    taken = host.provision(unique_slug(), domains=[f"{slug}.stelly.test"])
    assert taken.status_code == 422 and "its slug" in taken.json()["detail"], taken.text


@pytest.mark.parametrize("step", PROVISION_STEPS)
def test_failure_at_each_step_is_compensated_and_a_retry_succeeds(
    host: PlatformHost, step: str
) -> None:
    slug = unique_slug(step.replace("_", "")[:8])
    failed = provisioned(host, slug, fail_at_step=step)
    assert failed["status"] == "failed", failed
    assert f"{step} failed: injected failure" in failed["error"]
    assert failed["custom_status"]["state"] == "failed"

    assert not schema_exists(schema_for(slug))
    assert directory_slug(f"{slug}.stelly.test") is None
    with transaction() as conn:
        row = conn.execute(
            "select id, status, status_reason from tenants where slug = %s", [slug]
        ).fetchone()
        domains = conn.execute(
            "select count(*) as n from tenant_domains where tenant_id = %s", [row["id"]]
        ).fetchone()["n"]
    assert row["status"] == "failed" and step in row["status_reason"]
    assert domains == 0
    assert host.storefront(slug).status_code == 404
    undone = [r["step"] for r in recent_audit(slug) if r["step"].startswith("undo ")]
    assert undone[0] == "undo reserve"  # newest first: the last thing compensation did

    retried = provisioned(host, slug)
    assert retried["status"] == "completed", retried
    assert host.storefront(slug).status_code == 200


def _put_blob(container: str, name: str) -> None:
    # Created as the app creates it (`assets` readable anonymously), whichever test is first.
    ensure_container.__wrapped__(container)
    blob_service().get_container_client(container).upload_blob(name, b"x", overwrite=True)


def _blob_names(container: str, prefix: str) -> list[str]:
    client = blob_service().get_container_client(container)
    return [b.name for b in client.list_blobs(name_starts_with=prefix)]


def test_deprovision_removes_schema_blobs_directory_and_answers_410(host: PlatformHost) -> None:
    slug, neighbour = unique_slug("del"), unique_slug("keep")
    assert provisioned(host, slug)["status"] == "completed"
    # Not `uploads`: the image trigger moves anything parked there to quarantine within a poll.
    containers = (ASSETS_CONTAINER, QUARANTINE_CONTAINER)
    for container in containers:
        _put_blob(container, f"{slug}/logo/a.webp")
        _put_blob(container, f"{neighbour}/logo/a.webp")

    response = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert response.status_code == 202, response.text
    assert response.json()["id"] == f"deprovision-{slug}"
    done = host.wait(response.json()["id"])
    assert done["status"] == "completed" and done["output"]["status"] == "deleted", done

    assert not schema_exists(schema_for(slug))
    # The entry says deleted (410), so no late writer can bring the active record back.
    assert directory_get(f"{slug}.stelly.test").status == "deleted"
    for container in containers:
        assert _blob_names(container, f"{slug}/") == []
        assert _blob_names(container, f"{neighbour}/") == [f"{neighbour}/logo/a.webp"]
    assert scalar("select status from tenants where slug = %s", [slug]) == "deleted"
    assert host.storefront(slug).status_code == 410

    assert host.request("DELETE", f"/v1/platform/tenants/{slug}").status_code == 200
    assert host.provision(slug).status_code == 409  # slugs are never reused
    assert host.request("DELETE", "/v1/platform/tenants/no-such-slug").status_code == 404


def test_only_platform_admins_on_the_platform_host(host: PlatformHost) -> None:
    slug = unique_slug()
    assert provisioned(host, slug)["status"] == "completed"
    url = host.process.base_url + "/api/v1/platform/tenants"
    anonymous = httpx.get(url, headers={"Host": "stelly.test"})
    assert anonymous.status_code == 401
    owner = {"Authorization": f"Bearer {IDENTITY.mint(role='owner', tenant=slug)}"}
    assert host.request("GET", "/v1/platform/tenants", headers=owner).status_code == 403
    body = provision_body(unique_slug())
    assert host.request("POST", "/v1/platform/tenants", json=body, headers=owner).status_code == 403
    # A platform token through a restaurant's host finds no platform API there.
    tenant_host = f"{slug}.stelly.test"
    assert host.request("GET", "/v1/platform/tenants", host=tenant_host).status_code == 404
    deleting = host.request("DELETE", f"/v1/platform/tenants/{slug}", host=tenant_host)
    assert deleting.status_code == 404
    assert host.request("GET", "/v1/platform/operations/order-1").status_code == 404
    assert host.request("GET", "/v1/platform/operations/provision-nobody-here").status_code == 404


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"slug": "Bad_Slug"}, 422),
        ({"slug": "admin"}, 422),
        ({"currency": "EURO"}, 422),
        ({"timezone": "Mars/Olympus"}, 422),
        ({"domains": ["stelly.test"]}, 422),
        ({"domains": ["a.example.com", "a.example.com"]}, 422),
        ({"fail_at_step": "everything"}, 422),
        ({"surprise": True}, 422),
        ({"display_name": "Pizza\tRoma"}, 422),  # the seed step's business-name rules
        ({"display_name": " "}, 422),
    ],
)
def test_invalid_requests_are_client_errors(host: PlatformHost, change: dict, status: int) -> None:
    body = {**provision_body(unique_slug()), **change}
    response = host.request("POST", "/v1/platform/tenants", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_malformed_requests_are_client_errors(host: PlatformHost) -> None:
    broken = host.request(
        "POST", "/v1/platform/tenants", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    paged = host.request("GET", "/v1/platform/tenants", params={"limit": "0"})
    assert paged.status_code == 422
    canary = host.request("POST", "/v1/platform/migrations", json={"canaries": ["nobody-here"]})
    assert canary.status_code == 422 and canary.json()["errors"][0]["path"] == "canaries[0]"


def test_sigkill_mid_provisioning_resumes_to_active_exactly_once(host: PlatformHost) -> None:
    slug = unique_slug("kill")
    schema = schema_for(slug)
    # Parked inside create_schema, so the kill lands mid-operation every time rather than by
    # luck of timing.
    with provisioning_parked_in_create_schema(host, slug):
        assert host.operation(f"provision-{slug}")["custom_status"]["step"] == "create_schema"
        host.kill_and_restart()
    done = host.wait(f"provision-{slug}")
    assert done["status"] == "completed", done
    assert host.storefront(slug).status_code == 200
    assert scalar("select count(*) from tenants where slug = %s", [slug]) == 1
    assert scalar(f"select count(*) from {schema}.menu_versions", []) == 1
    # The activity that was killed had not finished, so it left no audit row; every step
    # finished exactly once (reserve's result was durable before create_schema started).
    assert [row["step"] for row in reversed(recent_audit(slug))] == list(PROVISION_STEPS)


def test_delete_waits_for_a_running_provisioning_but_clears_a_stranded_one(
    host: PlatformHost,
) -> None:
    slug = unique_slug("park")
    with provisioning_parked_in_create_schema(host, slug):
        assert host.request("DELETE", f"/v1/platform/tenants/{slug}").status_code == 409
    assert host.wait(f"provision-{slug}")["status"] == "completed"

    # A restaurant left `provisioning` by an operation that ended without finishing (its
    # compensation failed too): nothing runs for it any more, so DELETE must clear it.
    stranded = unique_slug("strand")
    job = provision_job(ProvisionRequest.model_validate(provision_body(stranded)))
    attempt = ProvisionJob(job.request, job.fingerprint, "an-attempt-that-ended")
    assert run_step("reserve", attempt, "ended-op")["ok"]
    assert scalar("select status from tenants where slug = %s", [stranded]) == "provisioning"
    deleting = host.request("DELETE", f"/v1/platform/tenants/{stranded}")
    assert deleting.status_code == 202, deleting.text
    assert host.wait(f"deprovision-{stranded}")["status"] == "completed"
    assert scalar("select status from tenants where slug = %s", [stranded]) == "deleted"


def test_a_slug_ending_in_a_hyphen_is_refused_up_front(host: PlatformHost) -> None:
    # It would become an invalid DNS label (the default domain): refused with the request.
    response = host.provision(unique_slug("hy") + "-")
    assert response.status_code == 422, response.text
    assert "slug" in response.text


def test_a_deleted_restaurants_tombstone_keeps_no_personal_data(host: PlatformHost) -> None:
    # The tombstone keeps the slug taken and the domains answering 410; nothing personal, and
    # neither does the task hub (the provisioning's input and history held the e-mail).
    slug = unique_slug("pii")
    response = host.provision(slug, owner_email="maria.rossi@gmail.example")
    assert response.status_code == 202, response.text
    assert host.wait(response.json()["id"])["status"] == "completed"
    deleting = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert deleting.status_code == 202, deleting.text
    assert host.wait(deleting.json()["id"])["status"] == "completed"

    detail = host.request("GET", f"/v1/platform/tenants/{slug}").json()
    assert detail["status"] == "deleted"
    assert detail["owner_email"] is None
    assert scalar("select owner_email from tenants where slug = %s", [slug]) is None
    assert scalar("select settings::text from tenants where slug = %s", [slug]) == "{}"
    assert task_hub_rows_mentioning(f"provision-{slug}", "maria.rossi@gmail.example") == []


@contextmanager
def schema_that_cannot_be_dropped(schema: str) -> Iterator[None]:
    """A real Postgres error on DROP SCHEMA of that one schema (an event trigger), so an undo
    fails however often it is retried."""
    name = f"block_drop_{schema}"
    with transaction() as conn:
        conn.execute(
            f"""create function {name}() returns event_trigger language plpgsql as $$
                declare dropped record;
                begin
                  for dropped in select * from pg_event_trigger_dropped_objects() loop
                    if dropped.object_type = 'schema' and dropped.object_name = '{schema}' then
                      raise exception 'the test keeps % from being dropped', dropped.object_name;
                    end if;
                  end loop;
                end $$"""
        )
        conn.execute(f"create event trigger {name} on sql_drop execute function {name}()")
    try:
        yield
    finally:
        with transaction() as conn:
            conn.execute(f"drop event trigger {name}")
            conn.execute(f"drop function {name}()")


def test_a_failed_undo_does_not_stop_the_rest_of_the_compensation(host: PlatformHost) -> None:
    # Dropping the schema keeps failing: the later undos still run, so the slug is marked
    # failed and its domains are free again, and the error says what is left.
    slug = unique_slug("undo")
    with schema_that_cannot_be_dropped(schema_for(slug)):
        failed = provisioned(host, slug, fail_at_step="seed", timeout=90)
    assert failed["status"] == "failed", failed
    assert "could not undo create_schema" in failed["error"] and "again" in failed["error"]
    assert scalar("select status from tenants where slug = %s", [slug]) == "failed"
    assert directory_slug(f"{slug}.stelly.test") is None
    with transaction() as conn:  # the domain is free again
        domains = conn.execute(
            "select count(*) as n from tenant_domains where domain = %s", [f"{slug}.stelly.test"]
        ).fetchone()["n"]
    assert domains == 0
    assert schema_exists(schema_for(slug))  # what the undo could not remove...
    retried = provisioned(host, slug)  # ...a new attempt builds on (steps are idempotent)
    assert retried["status"] == "completed", retried
    assert host.storefront(slug).status_code == 200
