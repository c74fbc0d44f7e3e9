"""Admin settings: the document, its validation, and optimistic concurrency with ETag/If-Match."""

from __future__ import annotations

import time

import pytest

from shared.provisioning.deprovision import run_deprovision_step
from shared.restaurant_settings import default_settings
from shared.tenancy import resolver
from tests.conftest import execute
from tests.storefront_helpers import customer_api, error_paths, module_tenant_api, ok, owner_api
from tests.test_http_edge import assert_problem

SETTINGS = {
    "business_name": "Luigi's Pizzeria",
    "currency": "GBP",
    "timezone": "Europe/London",
    "locale": "en-GB",
    "tax": {"rate_bp": 2000, "inclusive": True},
    "hours": {"mon": [["11:30", "14:30"], ["17:30", "23:00"]], "sat": [["18:00", "02:00"]]},
    "contact": {"email": "ciao@luigis.example", "phone": "+44 20 7946 0000"},
}


@pytest.fixture(name="api")
def manager_api_fixture(client, tenants, auth_header):
    """A new restaurant's manager."""
    return owner_api(client, tenants.create(), auth_header, role="manager")


@pytest.fixture(scope="module", name="rejecting_api")
def rejecting_api_fixture(client):
    """One restaurant for a module whose writes are all refused."""
    yield from module_tenant_api(client)


def test_a_new_restaurant_has_defaults_and_is_always_open(api) -> None:
    response = api.get("/v1/admin/settings")
    assert ok(response) == {
        "business_name": api.tenant.display_name,
        "currency": "EUR",
        "timezone": "UTC",
        "locale": "en",
        "tax": {"rate_bp": 0, "inclusive": False},
        "hours": None,
        "special_days": [],
        "contact": {"email": None, "phone": None, "address": None, "website": None},
    }
    assert response.headers["etag"] == '"1"'


def test_saved_settings_read_back_with_a_new_etag(api) -> None:
    response = api.put("/v1/admin/settings", json=SETTINGS, headers={"If-Match": '"1"'})
    saved = ok(response)
    assert response.headers["etag"] == '"2"'
    assert saved["hours"] == SETTINGS["hours"]
    assert saved["contact"]["email"] == "ciao@luigis.example"
    again = api.get("/v1/admin/settings")
    assert (ok(again), again.headers["etag"]) == (saved, '"2"')


def test_two_editors_the_second_one_is_told(api) -> None:
    etag = api.get("/v1/admin/settings").headers["etag"]
    ok(api.put("/v1/admin/settings", json=SETTINGS, headers={"If-Match": etag}))
    late = api.put(
        "/v1/admin/settings",
        json={**SETTINGS, "business_name": "Mario's"},
        headers={"If-Match": etag},
    )
    assert late.status_code == 412
    assert late.content_type == "application/problem+json"
    by_body = api.put(
        "/v1/admin/settings", json={**SETTINGS, "business_name": "Mario's", "expected_version": 1}
    )
    assert (by_body.status_code, by_body.json()["current_version"]) == (409, 2)
    for mistyped in (True, "2", 2.0):  # a JSON integer, as on every other write
        response = api.put("/v1/admin/settings", json={**SETTINGS, "expected_version": mistyped})
        assert response.status_code == 422, mistyped
    assert ok(api.get("/v1/admin/settings"))["business_name"] == "Luigi's Pizzeria"
    # `*` means "whatever is there" and a writer that says nothing overwrites.
    ok(api.put("/v1/admin/settings", json=SETTINGS, headers={"If-Match": "*"}))
    ok(api.put("/v1/admin/settings", json={**SETTINGS, "business_name": "Mario's"}))
    assert ok(api.get("/v1/admin/settings"))["business_name"] == "Mario's"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"currency": "eur"}, "currency"),
        ({"currency": "XAU"}, "currency"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),
        ({"locale": "english"}, "locale"),
        ({"tax": {"rate_bp": 10_001, "inclusive": True}}, "tax.rate_bp"),
        ({"tax": {"rate_bp": 2000, "inclusive": "yes"}}, "tax.inclusive"),
        ({"tax": {"rate_bp": 2000}}, "tax.inclusive"),
        ({"hours": {}}, "hours"),
        ({"hours": {"mon": [["11:00", "25:00"]]}}, "hours.mon[0][1]"),
        ({"hours": {"holiday": [["11:00", "12:00"]]}}, "hours.holiday"),
        ({"contact": {"email": "not-an-email"}}, "contact.email"),
        ({"contact": {"fax": "123"}}, "contact.fax"),
        ({"business_name": "  "}, "business_name"),
        ({"business_name": "Luigi\u0000"}, "business_name"),
        ({"contact": {"address": "1 High St\ud800"}}, "contact.address"),
        ({"contact": {"address": " \n "}}, "contact.address"),  # blank, like a blank name
        ({"business_name": "Luigi\u0085s"}, "business_name"),  # a C1 control
        ({"theme": {}}, "theme"),
    ],
)
def test_settings_rules(rejecting_api, changes, path) -> None:
    response = rejecting_api.put("/v1/admin/settings", json={**SETTINGS, **changes})
    assert path in error_paths(response)


def test_a_too_long_contact_says_characters(rejecting_api) -> None:
    contact = {"email": "a" * 250 + "@b.co", "website": "https://" + "w" * 300 + ".example"}
    response = rejecting_api.put("/v1/admin/settings", json={**SETTINGS, "contact": contact})
    messages = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert set(messages) == {"contact.email", "contact.website"}
    assert all("character" in message for message in messages.values()), messages


def test_missing_fields_are_named(rejecting_api) -> None:
    response = rejecting_api.put("/v1/admin/settings", json={"business_name": "X"})
    assert set(error_paths(response)) == {"currency", "timezone", "locale", "tax"}
    assert rejecting_api.get("/v1/admin/settings").headers["etag"] == '"1"'


def test_only_this_restaurants_owner_or_manager(client, tenants, auth_header) -> None:
    tenant, other = tenants.create(), tenants.create()
    staff = owner_api(client, tenant, auth_header, role="staff")
    assert staff.get("/v1/admin/settings").status_code == 403
    foreign = owner_api(client, tenant, lambda role, tenant: auth_header(role, tenant=other.slug))
    assert foreign.put("/v1/admin/settings", json=SETTINGS).status_code == 403
    assert ok(owner_api(client, tenant, auth_header).get("/v1/admin/settings"))["currency"] == "EUR"


WITH_ADDRESS = {**SETTINGS, "contact": {**SETTINGS["contact"], "address": "1 High Street, London"}}


def test_a_save_through_a_stale_cache_after_deletion_is_410(client, tenants, auth_header) -> None:
    # Another instance's 5-second cache still shows the restaurant active: the save must not
    # put the contact data back on the tombstone.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    domain = f"{tenant.slug}.stelly.test"
    assert api.get("/v1/admin/settings").status_code == 200
    for step in ("mark_deleting", "remove_directory", "delete_blobs", "drop_schema", "tombstone"):
        assert run_deprovision_step(step, tenant.slug, "deletion-op")["ok"], step
    # Another instance looked the restaurant up a moment before: its 5-second cache still
    # holds the active record (README: "an instance whose 5-second cache still holds the
    # restaurant as active ... answers 410 too").
    resolver._entries[domain] = (time.monotonic() + 5, tenant)
    try:
        response = api.put("/v1/admin/settings", json=WITH_ADDRESS)
    finally:
        resolver.invalidate(domain)
    row = execute("select status, settings from tenants where slug = %s", [tenant.slug])[0]
    assert (response.status_code, row["status"], row["settings"]) == (410, "deleted", {})


def test_a_contact_phone_in_the_usual_local_format_is_kept_as_written(
    client, tenants, auth_header
) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    settings = {**SETTINGS, "contact": {"phone": "(415) 555-0100"}}
    assert ok(api.put("/v1/admin/settings", json=settings))["contact"]["phone"] == "(415) 555-0100"


@pytest.mark.parametrize(
    ("rate", "says"),
    [
        (-1, "must be at least 0, in basis points"),
        ("2000", "must be a number, in basis points"),
        (True, "must be a number, in basis points"),
        (10000.5, "must be at most 10000, in basis points"),
        (887.555, "to a hundredth of one at most: 8.875 % is 887.5"),
        (20.5, "20.5 basis points is 0.205 %"),  # "20.5 %" typed as is: 2050
        (float("nan"), "must be a finite number"),  # Python's json reads NaN and Infinity
    ],
)
def test_a_tax_rate_is_basis_points_to_a_hundredth(rejecting_api, rate, says: str) -> None:
    """Not negative, not above 100 %, a JSON number, at most two decimals, and a fraction only
    for a rate of 1 % and over."""
    tax = {"rate_bp": rate, "inclusive": False}
    response = rejecting_api.put("/v1/admin/settings", json={**SETTINGS, "tax": tax})
    assert error_paths(response) == ["tax.rate_bp"]
    assert says in response.json()["errors"][0]["message"]


def test_a_rate_of_three_decimals_of_a_percent_is_kept_and_a_whole_one_stays_whole(api) -> None:
    """New York City's 8.875 % is 887.5; 2000.0 from a client that writes every number with a
    point is the whole 2000 it means."""
    fractional = {**SETTINGS, "tax": {"rate_bp": 887.5, "inclusive": False}}
    assert ok(api.put("/v1/admin/settings", json=fractional))["tax"]["rate_bp"] == 887.5
    assert ok(api.get("/v1/admin/settings"))["tax"] == {"rate_bp": 887.5, "inclusive": False}
    whole = {**SETTINGS, "tax": {"rate_bp": 2000.0, "inclusive": True}}
    saved = api.put("/v1/admin/settings", json=whole)
    assert '"rate_bp":2000,' in saved.text.replace(" ", "")


def test_the_business_name_is_saved_without_surrounding_spaces(api) -> None:
    """Customers see the name without the spaces typed around it."""
    saved = ok(api.put("/v1/admin/settings", json={**SETTINGS, "business_name": "  Luigi's  "}))
    assert saved["business_name"] == "Luigi's"
    assert ok(api.client.get("/api/v1/store/config", host=api.host))["name"] == "Luigi's"


def test_a_phone_of_15_digits_or_with_slashes_is_kept_one_of_16_refused(
    client, tenants, auth_header
) -> None:
    """A phone of 15 digits (E.164's maximum) and one written with a slash (`030/1234567`) are
    kept; 16 digits is a 422."""
    api = owner_api(client, tenants.create(), auth_header)

    def put_phone(phone: str):
        settings = {**default_settings("Luigi's"), "contact": {"phone": phone}}
        return api.put("/v1/admin/settings", json=settings)

    for phone in ("+123 4567 8901 2345", "030/1234567"):
        assert ok(put_phone(phone))["contact"]["phone"] == phone
    problem = assert_problem(put_phone("+123 4567 8901 23456"), 422)
    assert [e["path"] for e in problem["errors"]] == ["contact.phone"]


def test_a_restaurant_pricing_in_dinars_shows_three_decimals(client, tenants) -> None:
    """Kuwaiti dinars have three decimals (ISO 4217)."""
    settings = {**default_settings("Dar Al Kuwait"), "currency": "KWD"}
    config = ok(customer_api(client, tenants.create(settings=settings)).get("/v1/store/config"))
    assert (config["currency"], config["currency_exponent"]) == ("KWD", 3)
