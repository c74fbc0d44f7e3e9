"""Error shapes at the HTTP edge: problem+json for everything a client can get wrong."""

from __future__ import annotations

import logging

import pytest

from functions.request_bodies import MAX_BODY_BYTES
from shared import db
from tests.conftest import IDENTITY, execute
from tests.storefront_helpers import customer_api, ok, owner_api

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "correlation_id"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.content_type == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS and body["status"] == status
    return body


def post(edge_client, body: bytes, content_type: str = "application/json", **headers):
    return edge_client.post(
        "/api/v1/edge/orders", body=body, headers={"content-type": content_type, **headers}
    )


def test_valid_body_is_accepted(edge_client) -> None:
    response = edge_client.post(
        "/api/v1/edge/orders", json={"lines": [{"item_id": "a", "quantity": 2}]}
    )
    assert response.status_code == 201 and response.json() == {"lines": 1}


def test_no_answer_may_be_sniffed_as_another_type(edge_client) -> None:
    """Refusals quote what was sent (a key named `<script>`): browsers must keep the type."""
    refused = post(edge_client, b'{"<script>alert(1)</script>": 1}')
    accepted = edge_client.post("/api/v1/edge/orders", json={"lines": []})
    boom = edge_client.get("/api/v1/edge/boom")
    for response in (refused, accepted, boom):
        assert response.headers["x-content-type-options"] == "nosniff", response.status_code


def test_malformed_json_is_400(edge_client) -> None:
    body = assert_problem(post(edge_client, b'{"lines": [}'), 400)
    assert "Malformed JSON" in body["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # Python's int() refuses more than 4300 digits; json.loads raises a plain ValueError.
        (b'{"lines": [], "tip": ' + b"1" * 5000 + b"}", "too many digits"),
        # Deeper than the JSON parser recurses (RecursionError), still well under 1 MB.
        (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    ],
)
def test_json_python_cannot_read_is_400(edge_client, body: bytes, detail: str) -> None:
    assert detail in assert_problem(post(edge_client, body), 400)["detail"]


def test_json_nested_deeper_than_any_request_is_422(edge_client) -> None:
    # Parses, but walking it (our checks, then pydantic) would near Python's recursion limit.
    body = assert_problem(post(edge_client, b'{"lines": ' + b"[" * 900 + b"]" * 900 + b"}"), 422)
    assert body["errors"][0]["path"] == "lines" + "[0]" * 32
    assert "nested deeper than 32 levels" in body["errors"][0]["message"]


def test_empty_body_is_400(edge_client) -> None:
    assert_problem(post(edge_client, b""), 400)


def test_wrong_media_type_is_415(edge_client) -> None:
    body = assert_problem(post(edge_client, b"lines=1", "application/x-www-form-urlencoded"), 415)
    assert "application/json" in body["detail"]


def test_oversized_body_is_413(edge_client) -> None:
    big = b'{"lines": [], "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert_problem(post(edge_client, big), 413)


def test_schema_violations_are_422_with_field_paths(edge_client) -> None:
    body = assert_problem(
        post(
            edge_client,
            b'{"lines": [{"item_id": "a", "quantity": 2}, {"item_id": "b", "quantity": 0}],'
            b' "x": 1}',
        ),
        422,
    )
    paths = {e["path"] for e in body["errors"]}
    assert paths == {"lines[1].quantity", "x"}


def test_wrong_json_type_is_422(edge_client) -> None:
    body = assert_problem(post(edge_client, b"[1, 2]"), 422)
    assert body["errors"]


def test_unknown_route_is_404_problem(edge_client) -> None:
    assert_problem_404 = edge_client.get("/api/v1/nothing/here")
    assert assert_problem_404.status_code == 404
    assert assert_problem_404.content_type == "application/problem+json"


def test_wrong_method_is_405_with_allow(edge_client) -> None:
    response = edge_client.delete("/api/v1/edge/orders")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_unexpected_error_is_a_500_problem_with_correlation_id(edge_client) -> None:
    response = edge_client.get("/api/v1/edge/boom", headers={"x-correlation-id": "req-123"})
    body = assert_problem(response, 500)
    assert body["correlation_id"] == "req-123"
    assert "a bug" not in body["detail"]  # internals stay in the logs


def test_a_session_killed_for_idling_in_a_transaction_is_a_503(
    edge_client, monkeypatch: pytest.MonkeyPatch, migrated_public: None
) -> None:
    # The server ends it (idle_in_transaction_session_timeout): worth a retry, not a 500.
    monkeypatch.setitem(db.SESSION_TIMEOUTS, "idle_in_transaction_session_timeout", "300ms")
    db.close_pool()
    try:
        response = edge_client.get("/api/v1/edge/idle", params={"s": "1"})
    finally:
        monkeypatch.undo()
        db.close_pool()
    assert_problem(response, 503)
    assert response.headers["retry-after"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-correlation-id": "abc-123"}, "abc-123"),
        ({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
         "4bf92f3577b34da6a3ce929d0e0e4736"),
        ({"x-correlation-id": "bad id with spaces"}, None),
    ],
)  # fmt: skip
def test_correlation_id_is_taken_or_generated_and_echoed(edge_client, headers, expected) -> None:
    response = edge_client.get("/api/v1/edge/tenant", host="nobody.stelly.test", headers=headers)
    body = assert_problem(response, 404)
    echoed = response.headers["x-correlation-id"]
    assert body["correlation_id"] == echoed
    if expected:
        assert echoed == expected
    else:
        assert len(echoed) == 32 and " " not in echoed


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"lines": [{"item_id": "a\\u0000b", "quantity": 1}]}', "lines[0].item_id"),
        (b'{"lines": [{"item_id": "\\ud800", "quantity": 1}]}', "lines[0].item_id"),
        (b'{"lines\\u0000": []}', "body"),
    ],
)
def test_text_postgres_cannot_store_is_422_not_500(edge_client, body: bytes, path: str) -> None:
    problem = assert_problem(post(edge_client, body), 422)
    assert [e["path"] for e in problem["errors"]] == [path]


def test_nul_in_the_query_string_is_422(edge_client) -> None:
    response = edge_client.post("/api/v1/edge/orders", json={"lines": []}, params={"x": "a\x00"})
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["path"] == "query.x"


@pytest.mark.parametrize("host", ["[1:2]", "[1.2.3.4]"])
def test_a_bracketed_host_that_is_no_ip_address_is_answered(client, host: str) -> None:
    # Kestrel lets `[1:2]` through as a Host; urlsplit refuses it, which was a 500 everywhere.
    assert client.get("/api/health", host=host).status_code == 200
    assert_problem(client.get("/api/v1/store/config", host=host), 404)


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
VALID_ORDER = b'{"lines": [{"item_id": "a", "quantity": 1}]}'


def _correlation_id(edge_client, headers: dict[str, str]) -> str:
    response = edge_client.get("/api/v1/edge/tenant", host="nobody.stelly.test", headers=headers)
    body = assert_problem(response, 404)
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    return response.headers["x-correlation-id"]


@pytest.mark.parametrize(
    "traceparent",
    [
        f"ff-{TRACE_ID}-00f067aa0ba902b7-01",  # version ff is invalid
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # so is an all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # so is an all-zero parent id
        f"00-{TRACE_ID}-00f067aa0ba902b7-0A",  # and upper-case flags (hex is lower-case)
    ],
)
def test_an_invalid_traceparent_does_not_give_the_correlation_id(
    edge_client, traceparent: str
) -> None:
    """An invalid traceparent (W3C Trace Context, as OpenTelemetry reads it) gives no trace id:
    the request gets a correlation id of its own (32 zeros would be every such caller's)."""
    echoed = _correlation_id(edge_client, {"traceparent": traceparent})
    assert echoed not in (TRACE_ID, "0" * 32) and len(echoed) == 32


def test_a_traceparent_in_upper_case_is_not_a_trace_id(edge_client) -> None:
    """W3C ids are lower-case hex: OpenTelemetry ignores an upper-case traceparent and the span
    starts a trace of its own, so the correlation id is not that trace id either."""
    traceparent = f"00-{TRACE_ID.upper()}-00F067AA0BA902B7-01"
    echoed = _correlation_id(edge_client, {"traceparent": traceparent})
    assert echoed not in (TRACE_ID, TRACE_ID.upper()) and len(echoed) == 32


@pytest.mark.parametrize(
    ("traceparent", "expected"),
    [
        (f"01-{TRACE_ID}-00f067aa0ba902b7-01-future-fields", TRACE_ID),  # a later version
        (f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra", None),  # version 00 has four fields
    ],
)
def test_only_a_later_version_may_carry_more_fields(
    edge_client, traceparent: str, expected: str | None
) -> None:
    """W3C: a later version is read by its first four fields, whatever follows the flags."""
    echoed = _correlation_id(edge_client, {"traceparent": traceparent})
    assert (echoed == TRACE_ID) == (expected is not None)


def test_a_correlation_id_of_128_characters_is_kept_and_one_longer_is_not(edge_client) -> None:
    """A caller's x-correlation-id of up to 128 characters is kept; a longer one is replaced."""
    longest = "a" * 128
    assert _correlation_id(edge_client, {"x-correlation-id": longest}) == longest
    too_long = _correlation_id(edge_client, {"x-correlation-id": "b" * 129})
    assert too_long != "b" * 129 and len(too_long) == 32


def test_if_none_match_star_is_a_304(client, tenants) -> None:
    """`If-None-Match: *` matches any current representation: a 304 with no body."""
    customer = customer_api(client, tenants.create())
    cached = customer.get("/v1/store/config", headers={"If-None-Match": "*"})
    assert (cached.status_code, cached.body) == (304, b"")


@pytest.mark.parametrize(
    "content_type",
    ["application/merge-patch+json", "Application/JSON; charset=UTF-8"],
)
def test_json_media_types_beyond_plain_application_json_are_read(
    edge_client, content_type: str
) -> None:
    """A `+json` media type is JSON, and media types are case-insensitive."""
    response = post(edge_client, VALID_ORDER, content_type)
    assert response.status_code == 201, response.text


def test_a_body_of_exactly_the_limit_is_read(edge_client) -> None:
    """The body limit is inclusive: a body of exactly MAX_BODY_BYTES, declared or not, is read."""
    body = VALID_ORDER + b" " * (MAX_BODY_BYTES - len(VALID_ORDER))
    assert len(body) == MAX_BODY_BYTES
    response = post(edge_client, body, **{"content-length": str(len(body))})
    assert response.status_code == 201, response.text


def test_a_declared_body_over_the_limit_is_413_where_no_body_is_read(edge_client) -> None:
    """A Content-Length over the limit is a 413 even on an endpoint that reads no body."""
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = edge_client.request(
        "GET", "/api/v1/edge/boom", body=big, headers={"content-length": str(len(big))}
    )
    assert_problem(response, 413)


def test_nul_in_a_route_parameter_is_422_not_500(client) -> None:
    """A NUL in a route parameter is a 422 naming it: Postgres cannot store NUL, so it must not
    reach a query."""
    admin = {"Authorization": f"Bearer {IDENTITY.mint(role='platform_admin')}"}
    response = client.get("/api/v1/platform/tenants/a\x00b", host="stelly.test", headers=admin)
    problem = assert_problem(response, 422)
    assert [e["path"] for e in problem["errors"]] == ["route.slug"]


def test_a_bad_query_parameter_is_reported_under_query(client, tenants, auth_header) -> None:
    """A bad query parameter's error path is `query.<name>`."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizzas"}), 201)
    response = api.delete(
        f"/v1/admin/menu/categories/{category['id']}", params={"expected_version": "0"}
    )
    problem = assert_problem(response, 422)
    assert [e["path"] for e in problem["errors"]] == ["query.expected_version"]


def test_a_table_token_like_a_route_segment_is_kept_out_of_the_access_log(
    client, tenants, caplog: pytest.LogCaptureFixture
) -> None:
    """The access log shows a table token's route with `{token}`, even when the token equals an
    earlier segment of the path (here `v1`)."""
    tenant = tenants.create()
    caplog.set_level(logging.INFO, logger="stelly.http")
    response = customer_api(client, tenant).get("/v1/store/tables/v1")
    assert response.status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "stelly.http"]
    assert any("GET /api/v1/store/tables/{token} → 404" in line for line in lines), lines


def test_a_value_a_database_check_refuses_is_a_409_not_a_500(client, tenants, auth_header) -> None:
    """A value the app allows but a restaurant's not yet migrated schema refuses is a 409 that
    says the update is pending, not a 500."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizzas"}), 201)
    item = ok(
        api.post(
            "/v1/admin/menu/items",
            json={"category_id": category["id"], "name": "Margherita", "price": 100},
        ),
        201,
    )
    # The narrower rule of a tenant schema the fleet migration has not reached yet.
    execute(
        f"alter table {tenant.schema_name}.menu_items"
        " add constraint narrower_price_cap check (price <= 1000)"
    )
    response = api.patch(f"/v1/admin/menu/items/{item['id']}", json={"price": 2000})
    assert "pending" in assert_problem(response, 409)["detail"]


def test_a_delete_with_a_stale_expected_version_in_the_query_is_409(
    client, tenants, auth_header
) -> None:
    """A DELETE may carry its expected version as `?expected_version=`: a stale one is a 409 and
    the row stays."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizzas"}), 201)
    path = f"/v1/admin/menu/categories/{category['id']}"
    stale = api.delete(path, params={"expected_version": str(category["version"] + 1)})
    assert assert_problem(stale, 409)["current_version"] == category["version"]
    assert api.get(path).status_code == 200
    current = api.delete(path, params={"expected_version": str(category["version"])})
    assert current.status_code == 204


def test_a_delete_with_expected_version_0_in_the_query_is_a_422(
    client, tenants, auth_header
) -> None:
    """`?expected_version=0` names no version a row can have (they start at 1): a 422 naming
    the parameter, as `"expected_version": 0` in a body is, and the row stays."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizzas"}), 201)
    path = f"/v1/admin/menu/categories/{category['id']}"
    refused = api.delete(path, params={"expected_version": "0"})
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["query.expected_version"]
    assert api.get(path).status_code == 200
