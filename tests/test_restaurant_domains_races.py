"""`PUT /api/v1/platform/tenants/{slug}/domains` beside other operations: what admins and
customers see when a restaurant's domains change next to a deletion, a provisioning, another
change, another restaurant's claim or a repeated create."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from shared.db import transaction
from tests.conftest import run_in_turn_behind
from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    directory_slug,
    own_domain,
    platform_host_fixture,
    provision_body,
    unique_slug,
)
from tests.storefront_helpers import problem

pytestmark = pytest.mark.devhost
PLATFORM = "stelly.test"


def _detail_response(host: PlatformHost, slug: str) -> httpx.Response:
    return host.request("GET", f"/v1/platform/tenants/{slug}")


def _deleted(host: PlatformHost, slug: str) -> None:
    deleting = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert host.wait(deleting.json()["id"])["status"] == "completed"


def test_a_domain_added_by_a_change_closes_with_the_restaurant_and_can_be_taken_over(
    host: PlatformHost,
) -> None:
    """Deletion tombstones the domains the restaurant has now, not those it was created with:
    the added one answers 410, the dropped one 404 (not the closed restaurant's 410 or 200)."""
    slug, heir = unique_slug("cls"), unique_slug("her")
    first, added = own_domain(), own_domain()
    host.create(slug, domains=[first, f"{slug}.{PLATFORM}"])
    host.create(heir)
    assert host.put_domains(slug, [added, f"{slug}.{PLATFORM}"]).status_code == 200

    _deleted(host, slug)

    assert "closed" in problem(host.store_config(added), 410)["detail"]
    assert problem(host.store_config(f"{slug}.{PLATFORM}"), 410)
    assert problem(host.store_config(first), 404)
    assert directory_slug(first) is None
    # The added domain is a tombstone like any other: another restaurant takes it over.
    taken = host.put_domains(heir, [added, f"{heir}.{PLATFORM}"])
    assert taken.status_code == 200, taken.text
    assert host.store_config(added).json()["name"] == f"Restaurant {heir}"


def test_a_dropped_domain_claimed_by_another_restaurant_serves_only_that_one(
    host: PlatformHost,
) -> None:
    """Roma gives up its own domain; Napoli buys it. Customers there see Napoli (as browsers
    send the host: any case, a trailing dot, a port), and the list shows it once, Napoli's."""
    roma, napoli = unique_slug("rom"), unique_slug("nap")
    moved = own_domain()
    host.create(roma, domains=[moved, f"{roma}.{PLATFORM}"])
    host.create(napoli)
    assert host.store_config(moved).json()["name"] == f"Restaurant {roma}"  # cached as Roma's
    assert host.put_domains(roma, [f"{roma}.{PLATFORM}"]).status_code == 200
    assert problem(host.store_config(moved), 404)

    claimed = host.put_domains(napoli, [f"{napoli}.{PLATFORM}", moved.upper() + "."])

    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["domains"] == [f"{napoli}.{PLATFORM}", moved]
    for sent in (moved, moved.upper() + ".", f"{moved}:7071"):
        assert host.store_config(sent).json()["name"] == f"Restaurant {napoli}", sent
    assert directory_slug(moved) == napoli
    page = host.request("GET", "/v1/platform/tenants", params={"limit": 200}).json()
    holders = [item["slug"] for item in page["items"] if moved in item["domains"]]
    if page["next_cursor"] is None:
        assert holders == [napoli]
    assert host.detail(roma)["domains"] == [f"{roma}.{PLATFORM}"]
    # Roma wanting it back now is Napoli's to refuse.
    assert f"belongs to {napoli}" in problem(host.put_domains(roma, [moved]), 409)["detail"]


def test_the_original_create_sent_again_after_a_change_is_still_the_same_request(
    host: PlatformHost,
) -> None:
    """A retried `POST /platform/tenants` (a client that never saw the first answer) must find
    the restaurant it created, whatever its domains became since."""
    roma, napoli = unique_slug("rpt"), unique_slug("oth")
    original = own_domain()
    body = provision_body(roma, domains=[original, f"{roma}.{PLATFORM}"])
    host.create(roma, domains=body["domains"])
    host.create(napoli)
    assert host.put_domains(roma, [f"{roma}.{PLATFORM}"]).status_code == 200
    again_before = host.request("POST", "/v1/platform/tenants", json=body)
    assert again_before.status_code == 200, again_before.text
    assert host.put_domains(napoli, [f"{napoli}.{PLATFORM}", original]).status_code == 200

    again = host.request("POST", "/v1/platform/tenants", json=body)

    assert again.status_code == 200, again.text
    assert again.json()["id"] == f"provision-{roma}"
    assert again.headers["Location"].endswith(f"/api/v1/platform/operations/provision-{roma}")


def test_a_change_first_in_line_for_a_closed_restaurants_domain_beats_a_provisioning(
    host: PlatformHost,
) -> None:
    """An admin moves Roma onto a closed restaurant's domain while another admin creates
    Napoli on it; the change gets there first. Roma serves there, Napoli's creation fails
    naming the domain and leaves nothing behind (Roma's directory entry included)."""
    gone, roma, napoli = unique_slug("gne"), unique_slug("rma"), unique_slug("npl")
    contested = own_domain()
    host.create(gone, domains=[contested])
    host.create(roma)
    _deleted(host, gone)
    answers: dict[str, httpx.Response] = {}

    def change() -> None:
        answers["put"] = host.put_domains(roma, [contested, f"{roma}.{PLATFORM}"])

    def create() -> None:
        answers["post"] = host.provision(napoli, domains=[contested])

    run_in_turn_behind(
        None,
        "select 1 from public.tenant_domains where domain = %s for update",
        "tenant_domains",
        change,
        create,
        params=[contested],
    )

    assert answers["put"].status_code == 200, answers["put"].text
    assert answers["post"].status_code == 202, answers["post"].text
    failed = host.wait(answers["post"].json()["id"])
    assert failed["status"] == "failed" and contested in failed["error"], failed
    assert host.store_config(contested).json()["name"] == f"Restaurant {roma}"
    assert directory_slug(contested) == roma
    assert problem(_detail_response(host, napoli), 404)  # its reserve rolled back whole


def test_after_two_queued_changes_the_domains_the_last_one_dropped_answer_404(
    host: PlatformHost,
) -> None:
    """Two admins change Roma at once; the second asks for fewer domains. Both answer 200, the
    second last: every domain it dropped must answer 404, as after one change."""
    slug = unique_slug("two")
    host.create(slug)
    extra = [own_domain() for _ in range(9)]
    answers: dict[str, httpx.Response] = {}

    def wide() -> None:
        answers["wide"] = host.put_domains(slug, [f"{slug}.{PLATFORM}", *extra])

    def narrow() -> None:
        answers["narrow"] = host.put_domains(slug, [f"{slug}.{PLATFORM}"])

    run_in_turn_behind(
        None,
        "select 1 from public.tenants where slug = %s for update",
        "public.tenants",
        wide,
        narrow,
        params=[slug],
    )

    assert answers["wide"].status_code == answers["narrow"].status_code == 200
    assert host.detail(slug)["domains"] == [f"{slug}.{PLATFORM}"]
    served = [domain for domain in extra if host.store_config(domain).status_code != 404]
    assert served == []


def _lock_waiters() -> list[str]:
    with transaction() as conn:
        rows = conn.execute(
            """select query from pg_stat_activity where wait_event_type = 'Lock'
                  and datname = current_database() and query like '%%public.tenants%%'"""
        ).fetchall()
    return [row["query"] for row in rows]


def _until(condition: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)
    return found


def test_a_domain_given_while_the_provisioning_fails_does_not_serve_the_failed_restaurant(
    host: PlatformHost,
) -> None:
    """The row reads `active` between `activate` and its undo: a change is refused while the
    operation runs (as a deletion is), so no customer on a new domain is left served by a
    restaurant whose provisioning failed and whose schema is gone."""
    slug, added = unique_slug("flg"), own_domain()
    started = host.provision(slug, fail_at_step="activate")
    assert started.status_code == 202, started.text
    _until(lambda: host.detail(slug).get("status") == "provisioning")
    # Hold the restaurant's row until `activate` (the first step locking it by its attempt)
    # waits for it; let any earlier step by. The change is sent while activate waits.
    while True:
        with transaction() as conn:
            row = conn.execute(
                "select status from public.tenants where slug = %s for update", [slug]
            ).fetchone()
            assert row["status"] == "provisioning", "activate ran before the test held the row"
            waiting = _until(_lock_waiters)
            if "provision_attempt" in waiting[0]:
                refused = host.put_domains(slug, [added])
                break

    assert "still being provisioned" in problem(refused, 409)["detail"]
    assert host.wait(started.json()["id"])["status"] == "failed"
    assert host.detail(slug)["status"] == "failed"
    assert problem(host.store_config(added), 404)
