"""Error shapes at the HTTP edge: problem+json for everything a client can get wrong."""

from __future__ import annotations

import pytest

from functions.request_bodies import MAX_BODY_BYTES
from shared import db

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
