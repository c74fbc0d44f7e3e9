"""Provisioning and deletion step by step, and the registry: slugs, domains, compensation,
tombstones, list pages. The steps run as the durable activities run them, on real Postgres and
Azurite."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from shared.directory import directory_delete, directory_get, directory_put
from shared.provisioning.compensation import run_undo
from shared.provisioning.deprovision import DEPROVISION_STEPS, run_deprovision_step
from shared.provisioning.registry import taken_domains
from shared.provisioning.requests import (
    PROVISION_STEPS,
    ProvisionJob,
    ProvisionRequest,
)
from shared.provisioning.steps import run_step
from shared.theming import PRESETS
from tests.platform_helpers import (  # noqa: F401  (the `jobs` fixture)
    jobs_fixture,
    platform_get,
    provision_body,
    provision_job_for,
    scalar,
    unique_slug,
)
from tests.storefront_helpers import ok


def _provision(jobs: list[ProvisionJob], job: ProvisionJob, steps=PROVISION_STEPS) -> ProvisionJob:
    jobs.append(job)
    for step in steps:
        assert run_step(step, job, "fleet-op")["ok"], step
    return job


def test_a_slug_of_31_characters_is_accepted_and_one_of_32_refused() -> None:
    """README: slugs are 3 to 31 characters."""
    assert ProvisionRequest.model_validate(provision_body("a" * 31)).slug == "a" * 31
    with pytest.raises(ValidationError):
        ProvisionRequest.model_validate(provision_body("a" * 32))


def test_a_restaurant_has_at_most_ten_domains() -> None:
    """Ten domains, not eleven."""
    ten = [f"d{i}.pizza.example.com" for i in range(10)]
    assert ProvisionRequest.model_validate(provision_body("pizza-roma", domains=ten)).domains == ten
    with pytest.raises(ValidationError):
        ProvisionRequest.model_validate(
            provision_body("pizza-roma", domains=[*ten, "d10.pizza.example.com"])
        )


def test_an_internationalised_domain_with_a_trailing_dot_is_kept_as_browsers_send_it() -> None:
    """`Café.Example.` is `xn--caf-dma.example`, the trailing dot gone after the conversion too."""
    body = provision_body("pizza-roma", domains=["Café.Example."])
    assert ProvisionRequest.model_validate(body).domains == ["xn--caf-dma.example"]


def test_reserve_refuses_a_different_request_for_a_slug_still_provisioning(jobs) -> None:
    """Only the same request retakes a slug whose restaurant is still provisioning."""
    first = _provision(jobs, provision_job_for(unique_slug("rv")), ["reserve"])
    other = provision_job_for(first.slug, display_name="Someone Else's Pizza")
    assert run_step("reserve", other, "other-op") == {
        "ok": False,
        "error": f"the slug {first.slug} is taken (its restaurant is provisioning)",
    }
    assert scalar("select display_name from tenants where slug = %s", [first.slug]) == (
        first.request.display_name
    )


def test_the_first_domain_of_the_request_is_the_primary_one(jobs, client, auth_header) -> None:
    """The first domain asked for is the primary one, listed first whatever its name."""
    tag = uuid.uuid4().hex[:8]
    domains = [f"zeta-{tag}.example.com", f"alpha-{tag}.example.com"]
    job = _provision(jobs, provision_job_for(unique_slug("pd"), domains=domains))
    detail = ok(platform_get(client, auth_header, f"/tenants/{job.slug}"))
    assert detail["domains"] == domains


def test_a_deleted_restaurants_domain_answers_404_once_a_provisioning_that_took_it_failed(
    tenants, jobs, client
) -> None:
    """Reserving a tombstone's domain drops its cached directory entry, so once that
    provisioning fails the domain is a plain 404, not the old restaurant's 410."""
    domain = f"gone-{uuid.uuid4().hex[:8]}.example.com"
    tombstone = tenants.create(status="deleted", domains=[domain])
    directory_put(domain, tombstone)
    assert client.get("/api/v1/store/config", host=domain).status_code == 410
    job = _provision(jobs, provision_job_for(unique_slug("heir"), domains=[domain]), ["reserve"])
    run_undo("reserve", job, "fleet-op", "seed failed")
    assert client.get("/api/v1/store/config", host=domain).status_code == 404


def test_the_requested_currency_and_theme_reach_the_storefront(jobs, client) -> None:
    """The currency and theme of the request are what the new storefront serves."""
    theme = json.loads(json.dumps(PRESETS["classic"]))
    theme["colors"]["primary"] = "#1d4ed8"
    job = _provision(jobs, provision_job_for(unique_slug("cur"), currency="USD", theme=theme))
    config = ok(client.get("/api/v1/store/config", host=job.domains[0]))
    assert config["currency"] == "USD"
    assert config["theme"]["colors"]["primary"] == "#1d4ed8"


def test_activate_never_reopens_a_restaurant_a_deletion_took_over(jobs, client) -> None:
    """A deletion that started before `activate` keeps the restaurant closed."""
    job = _provision(jobs, provision_job_for(unique_slug("act")), PROVISION_STEPS[:-1])
    assert run_deprovision_step("mark_deleting", job.slug, "delete-op")["ok"]
    assert run_step("activate", job, "fleet-op")["ok"] is False
    assert scalar("select status from tenants where slug = %s", [job.slug]) == "deleting"
    assert client.get("/api/v1/store/config", host=job.domains[0]).status_code == 410


def test_a_failed_restaurants_reason_is_kept_to_1000_characters(jobs) -> None:
    """The failure reason kept on the row is capped at 1,000 characters."""
    job = _provision(jobs, provision_job_for(unique_slug("why")), ["reserve"])
    run_undo("reserve", job, "fleet-op", "x" * 5000)
    assert scalar("select status_reason from tenants where slug = %s", [job.slug]) == "x" * 1000


def test_undoing_create_schema_never_drops_the_schema_of_a_restaurant_still_active(
    jobs, client
) -> None:
    """Compensation never drops the schema of a restaurant that is serving (an `activate` undo
    that could not run does not stop the others)."""
    job = _provision(jobs, provision_job_for(unique_slug("live")))
    run_undo("create_schema", job, "fleet-op", "activate failed")
    assert scalar("select count(*) from pg_namespace where nspname = %s", [job.schema]) == 1
    assert client.get("/api/v1/store/config", host=job.domains[0]).status_code == 200


def test_a_failed_restaurant_can_be_deleted(jobs) -> None:
    """A restaurant whose provisioning failed can be deleted."""
    job = _provision(jobs, provision_job_for(unique_slug("fd")), ["reserve"])
    run_undo("reserve", job, "fleet-op", "migrate failed")
    for step in DEPROVISION_STEPS:
        assert run_deprovision_step(step, job.slug, "delete-op")["ok"], step
    assert scalar("select status from tenants where slug = %s", [job.slug]) == "deleted"


def test_deleting_a_deleted_restaurant_again_is_harmless_and_keeps_its_date(jobs) -> None:
    """A repeated DELETE succeeds and keeps the first deletion's date."""
    job = _provision(jobs, provision_job_for(unique_slug("dd")))
    for step in DEPROVISION_STEPS:
        assert run_deprovision_step(step, job.slug, "delete-op")["ok"], step
    deleted_at = scalar("select deleted_at from tenants where slug = %s", [job.slug])
    assert deleted_at is not None
    for step in DEPROVISION_STEPS:
        assert run_deprovision_step(step, job.slug, "delete-again")["ok"], step
    assert scalar("select deleted_at from tenants where slug = %s", [job.slug]) == deleted_at
    assert scalar("select status from tenants where slug = %s", [job.slug]) == "deleted"


def test_deleting_a_restaurant_leaves_the_directory_entries_of_others(tenants) -> None:
    """Deleting one restaurant removes its directory entries only."""
    going, staying = tenants.create(), tenants.create()
    kept = f"{staying.slug}.stelly.test"
    directory_put(kept, staying)
    for step in ("mark_deleting", "remove_directory"):
        assert run_deprovision_step(step, going.slug, "delete-op")["ok"], step
    record = directory_get(kept)
    assert record is not None and record.slug == staying.slug


def test_tenant_list_pages_neither_repeat_nor_promise_more_than_there_is(
    tenants, client, auth_header
) -> None:
    """Pages start after their cursor, and the last one names no next cursor."""
    prefix = f"zzzz{uuid.uuid4().hex[:10]}"
    slugs = [tenants.create(slug=f"{prefix}-{n}").slug for n in ("a", "b", "c")]
    first = ok(platform_get(client, auth_header, "/tenants", cursor=prefix, limit=2))
    assert [t["slug"] for t in first["items"]] == slugs[:2]
    assert first["next_cursor"] == slugs[1]
    last = ok(platform_get(client, auth_header, "/tenants", cursor=first["next_cursor"], limit=1))
    assert [t["slug"] for t in last["items"]] == slugs[2:]
    assert last["next_cursor"] is None


def test_a_tombstones_domain_is_not_taken(tenants) -> None:
    """A deleted restaurant's domain is free for a new restaurant."""
    live, gone = tenants.create(), tenants.create(status="deleted")
    live_domain, gone_domain = f"{live.slug}.stelly.test", f"{gone.slug}.stelly.test"
    assert taken_domains([live_domain, gone_domain], "newcomer") == {live_domain: live.slug}


def test_undoing_a_reservation_leaves_a_directory_entry_naming_another_restaurant(
    tenants, jobs
) -> None:
    """Undoing a reservation removes only a directory entry naming this attempt's restaurant."""
    other = tenants.create()
    job = provision_job_for(unique_slug("undo"))
    jobs.append(job)
    assert run_step("reserve", job, "fleet-op")["ok"]
    domain = job.domains[0]
    directory_put(domain, other)  # the entry names a restaurant that is not this attempt's
    try:
        run_undo("reserve", job, "fleet-op", "seed failed")
        cached = directory_get(domain)
        assert cached is not None and cached.slug == other.slug
    finally:
        directory_delete(domain)
