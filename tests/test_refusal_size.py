"""Refusals stay small whatever was sent: anyone may POST an order, so the answer to a body of
invented keys must not grow with it (functions/request_bodies.py)."""

from __future__ import annotations

import json

from devhost.testclient import TestResponse
from tests.order_fixtures import Shop, module_shop_fixture  # noqa: F401
from tests.storefront_helpers import ok, owner_api, problem


def _post_raw(shop: Shop, document: dict) -> tuple[int, TestResponse]:
    raw = json.dumps(document).encode()
    response = shop.client.request(
        "POST", "/api/v1/store/orders", host=shop.host, body=raw,
        headers={"Content-Type": "application/json", "X-Forwarded-For": "10.66.0.1"},
    )  # fmt: skip
    return len(raw), response


def test_a_body_of_many_unknown_keys_gets_a_bounded_refusal(module_shop: Shop) -> None:
    """Anyone may POST an order: 20,000 unknown keys get the first 50 errors and a count of
    the rest, an answer smaller than the question, not one error per key."""
    body = {**module_shop.order_body(), **{f"k{i}": 0 for i in range(20_000)}}
    sent, response = _post_raw(module_shop, body)
    refusal = problem(response, 422)
    assert (len(refusal["errors"]), refusal["errors_omitted"]) == (50, 19_950)
    assert refusal["errors"][0]["path"] == "k0"
    assert len(response.text) <= min(sent, 64 * 1024), (sent, len(response.text))
    described = module_shop.client.get("/api/openapi.json").json()
    problem_schema = described["components"]["schemas"]["Problem"]["properties"]
    assert problem_schema["errors_omitted"]["anyOf"][0]["type"] == "integer"


def test_an_unknown_keys_name_is_quoted_cut_short(module_shop: Shop) -> None:
    """One unknown key of 100,000 characters is quoted by its first 64 (path and detail)."""
    name = "<script>\x1b" + "A" * 100_000
    _, response = _post_raw(module_shop, {**module_shop.order_body(), name: 1})
    refusal = problem(response, 422)
    assert [e["path"] for e in refusal["errors"]] == [name[:64] + "…"]
    assert "errors_omitted" not in refusal
    assert len(response.text) <= 4096, len(response.text)


def test_an_unknown_key_of_64_characters_is_quoted_whole(module_shop: Shop) -> None:
    """64 characters are quoted as sent; 65 are cut to 64 and "…"."""
    exact, longer = "k" * 64, "m" * 65
    _, response = _post_raw(module_shop, {**module_shop.order_body(), exact: 1, longer: 1})
    paths = sorted(e["path"] for e in problem(response, 422)["errors"])
    assert paths == [exact, "m" * 64 + "…"]


def test_exactly_50_errors_are_all_listed_with_none_omitted(module_shop: Shop) -> None:
    """50 problems are all listed, with no `errors_omitted`; the 51st is counted."""
    fifty = {f"k{i}": 0 for i in range(50)}
    _, listed = _post_raw(module_shop, {**module_shop.order_body(), **fifty})
    refusal = problem(listed, 422)
    assert (len(refusal["errors"]), "errors_omitted" in refusal) == (50, False)
    _, one_more = _post_raw(module_shop, {**module_shop.order_body(), **fifty, "k50": 0})
    refusal = problem(one_more, 422)
    assert (len(refusal["errors"]), refusal["errors_omitted"]) == (50, 1)


def test_a_body_that_is_not_an_object_is_refused_at_path_body(module_shop: Shop) -> None:
    """An error about the whole document names `body`, not an empty path."""
    response = module_shop.client.post(
        "/api/v1/store/orders", host=module_shop.host, json=[module_shop.order_body()],
        headers={"X-Forwarded-For": "10.66.1.1"},
    )  # fmt: skip
    assert [(e["path"], e["message"]) for e in problem(response, 422)["errors"]] == [
        ("body", "must be an object")
    ]


def test_an_unknown_host_is_not_echoed_without_bound(client) -> None:
    """A refusal stays small whatever was sent: a made-up 10,000-character host (anyone can
    send one under the wildcard domain) is not quoted whole in the 404."""
    host = "a" * 10_000 + ".stelly.test"
    answer = client.get("/api/v1/store/config", host=host)
    assert answer.status_code == 404, answer.text
    assert len(answer.body) < 2048, len(answer.body)


def test_a_long_if_match_list_is_not_echoed_without_bound(module_shop: Shop) -> None:
    """A refusal stays small whatever was sent: a stale If-Match listing 5,000 ETags (about
    30 KB, under common header limits) is answered by a small 412, not one quoting every tag."""
    order = module_shop.place()
    ok(module_shop.transition(order, "accepted", 1))
    listed = ", ".join(f'"{n}"' for n in range(10_000, 15_000))
    answer = module_shop.client.put(
        f"/api/v1/kitchen/orders/{order['id']}/ready-by", host=module_shop.host,
        headers={**module_shop.staff(), "If-Match": listed}, json={"ready_in_minutes": 5},
    )  # fmt: skip
    assert answer.status_code == 412, answer.text[:200]
    assert len(answer.body) < 4096, len(answer.body)
    assert "not 10000 or 10001 or 10002 or 10003 or 10004 (and 4,995 more)" in answer.text


def test_a_stale_if_match_of_five_versions_quotes_them_all_and_each_once(
    client, tenants, auth_header
) -> None:
    """A stale If-Match of five versions quotes all five, with no "(and 0 more)"; a version
    listed several times is quoted once."""
    api = owner_api(client, tenants.create(), auth_header)
    ok(api.put("/v1/admin/settings", json=api.get("/v1/admin/settings").json()))  # now at 2
    settings = api.get("/v1/admin/settings").json()
    five = api.put(
        "/v1/admin/settings", json=settings,
        headers={"If-Match": '"11", "12", "13", "14", "15"'},
    )  # fmt: skip
    assert five.status_code == 412, five.text
    assert "not 11 or 12 or 13 or 14 or 15 as If-Match says" in five.json()["detail"]
    repeated = api.put(
        "/v1/admin/settings", json=settings,
        headers={"If-Match": ", ".join(['"7"'] * 6 + ['"8"'])},
    )  # fmt: skip
    assert repeated.status_code == 412, repeated.text
    assert "not 7 or 8 as If-Match says" in repeated.json()["detail"]


def _host_of(length: int) -> str:
    """A made-up host of exactly length characters under the wildcard domain."""
    labels, left = [], length - len(".stelly.test")
    while left > 0:
        label = "a" * min(63, left)
        labels.append(label)
        left -= len(label) + 1
    host = ".".join(labels)[: length - len(".stelly.test")] + ".stelly.test"
    assert len(host) == length
    return host


def test_a_host_of_253_characters_is_looked_up_and_254_is_not(client) -> None:
    """README: a host longer than a DNS name (253 characters) is a 404 that neither looks it
    up nor quotes it; 253 is a DNS name."""
    longest, longer = _host_of(253), _host_of(254)
    looked_up = client.get("/api/v1/store/config", host=longest)
    assert looked_up.status_code == 404, looked_up.text
    assert looked_up.json()["detail"] == f"No restaurant is served at {longest}"
    refused = client.get("/api/v1/store/config", host=longer)
    assert refused.status_code == 404, refused.text
    assert "longer than a DNS name" in refused.json()["detail"]
    assert longer not in refused.text
