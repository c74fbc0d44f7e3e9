"""Dining tables and QR codes: admin CRUD, dine-in orders, tampered, foreign and rotated codes."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.db import tenant_transaction
from tests.conftest import execute, wait_for_lock_waiters
from tests.order_fixtures import Shop, module_shop_fixture, open_shop, shop_fixture  # noqa: F401

TABLES = "/api/v1/admin/tables"


def _create(shop: Shop, label: str = "T1", seats: int | None = 4) -> dict:
    response = shop.client.post(
        TABLES, host=shop.host, headers=shop.owner(), json={"label": label, "seats": seats}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _lookup(shop: Shop, token: str):
    return shop.client.get(f"/api/v1/store/tables/{token}", host=shop.host)


def _dine_in(shop: Shop, token: str, key: str | None = None):
    body = {"lines": [shop.cola_line()], "fulfilment": {"type": "dine_in", "table_token": token}}
    return shop.post_order(body, key=key)


def test_admins_manage_tables(shop: Shop) -> None:
    table = _create(shop, "Patio 1")
    assert (table["label"], table["seats"], table["qr_version"]) == ("Patio 1", 4, 1)
    assert table["qr_url"] == f"https://{shop.host}/?table={table['qr_token']}"
    assert _create(shop, "Bar 2", None)["seats"] is None
    duplicate = shop.client.post(
        TABLES, host=shop.host, headers=shop.owner(), json={"label": "patio 1"}
    )
    assert duplicate.status_code == 409
    control = shop.client.post(
        TABLES, host=shop.host, headers=shop.owner(), json={"label": "T\x00"}
    )
    assert control.status_code == 422
    for seats in ("4", 4.0, True):  # JSON integers only, as everywhere else
        mistyped = shop.client.post(
            TABLES, host=shop.host, headers=shop.owner(), json={"label": "T9", "seats": seats}
        )
        assert mistyped.status_code == 422, seats
    listing = shop.client.get(TABLES, host=shop.host, headers=shop.owner()).json()
    assert [t["label"] for t in listing["tables"]] == ["Bar 2", "Patio 1"]

    path = f"{TABLES}/{table['id']}"
    renamed = shop.client.put(
        path,
        host=shop.host,
        headers=shop.owner(),
        json={"label": "Patio 01", "seats": 6, "expected_version": 1},
    )
    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    stale = shop.client.put(
        path, host=shop.host, headers=shop.owner(), json={"label": "X", "expected_version": 1}
    )
    assert stale.status_code == 409
    assert shop.client.get(path, host=shop.host, headers=shop.owner()).json()["label"] == "Patio 01"
    assert shop.client.delete(path, host=shop.host, headers=shop.owner()).status_code == 204
    assert shop.client.get(path, host=shop.host, headers=shop.owner()).status_code == 404
    assert _lookup(shop, table["qr_token"]).status_code == 404


def test_two_admins_renaming_at_once_the_second_is_told(shop: Shop) -> None:
    table = _create(shop, "Window")
    path = f"{TABLES}/{table['id']}"

    def rename(label: str):
        body = {"label": label, "expected_version": 1}
        return shop.client.put(path, host=shop.host, headers=shop.owner(), json=body)

    with ThreadPoolExecutor(max_workers=2) as pool:
        with tenant_transaction(shop.schema) as conn:  # both read the table while this holds it
            conn.execute("select 1 from dining_tables where id = %s for update", [table["id"]])
            renames = [pool.submit(rename, label) for label in ("Window A", "Window B")]
            wait_for_lock_waiters("dining_tables", count=2)
        answers = [future.result() for future in renames]
    assert sorted(a.status_code for a in answers) == [200, 409]
    winner = next(a.json() for a in answers if a.status_code == 200)
    assert winner["version"] == 2
    current = shop.client.get(path, host=shop.host, headers=shop.owner()).json()
    assert (current["label"], current["version"]) == (winner["label"], 2)


def test_tables_are_for_this_restaurants_owners_and_managers_only(
    shop: Shop, client, tenants, auth_header
) -> None:
    """Every table endpoint: a kitchen tablet's staff token, another restaurant's owner and a
    platform admin may not list, add, read, rename, re-seat, re-issue or delete tables; a
    manager may."""
    other = tenants.create()
    manager = shop.auth("manager", tenant=shop.slug)
    table = shop.client.post(TABLES, host=shop.host, headers=manager, json={"label": "M1"})
    assert table.status_code == 201, table.text
    path = f"{TABLES}/{table.json()['id']}"
    calls = [
        ("GET", TABLES, None),
        ("POST", TABLES, {"label": "X1"}),
        ("GET", path, None),
        ("PUT", path, {"label": "M2", "expected_version": 1}),
        ("PATCH", path, {"seats": 4, "expected_version": 2}),
        ("POST", f"{path}/qr", None),
        ("DELETE", path, None),
    ]
    refused = {
        "no token": ({}, 401),
        "staff": (shop.staff(), 403),
        "another restaurant's owner": (auth_header("owner", tenant=other.slug), 403),
        "platform admin": (auth_header("platform_admin"), 403),
    }
    for method, url, body in calls:
        params = {"expected_version": 1} if method == "DELETE" else None
        for who, (headers, status) in refused.items():
            response = client.request(
                method, url, host=shop.host, headers=headers, json=body, params=params
            )
            assert response.status_code == status, (method, url, who, response.text)
    for method, url, body in calls[2:]:
        # renamed, seated, re-issued
        params = {"expected_version": 4} if method == "DELETE" else None
        response = client.request(
            method, url, host=shop.host, headers=manager, json=body, params=params
        )
        assert response.status_code == (204 if method == "DELETE" else 200), (method, response.text)
    assert shop.client.get(f"{TABLES}/nope", host=shop.host, headers=manager).status_code == 404


def test_a_dine_in_order_names_its_table(shop: Shop) -> None:
    table = _create(shop, "Window 3")
    looked_up = _lookup(shop, table["qr_token"])
    assert looked_up.status_code == 200 and looked_up.json()["label"] == "Window 3"
    response = _dine_in(shop, table["qr_token"])
    assert response.status_code == 201, response.text
    view = shop.customer_view(response.json()).json()
    assert view["fulfilment"] == {"type": "dine_in", "table": "Window 3"}


def test_a_table_deleted_while_its_guest_orders_is_422(shop: Shop) -> None:
    """The code was checked, then the table was deleted before the order row could name it."""
    table = _create(shop, "Terrace")
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Holds the order between its check of the code and its write (reads pass the lock).
        with tenant_transaction(shop.schema) as conn:
            conn.execute("lock table dining_tables in exclusive mode")
            ordering = pool.submit(_dine_in, shop, table["qr_token"], key="terrace-1-000000000")
            wait_for_lock_waiters("dining_tables")
            conn.execute("delete from dining_tables where id = %s", [table["id"]])
        response = ordering.result()
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["path"] == "fulfilment.table_token"
    # Nothing was written, and the key is free for the guest's next try.
    assert execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"] == 0
    pickup = shop.post_order(key="terrace-1-000000000")
    assert pickup.status_code == 201, pickup.text


def test_a_code_rotated_while_its_guest_orders_is_422(shop: Shop) -> None:
    """Rotating says older codes stop working: one checked just before must not place an order."""
    table = _create(shop, "Terrace")
    with ThreadPoolExecutor(max_workers=1) as pool:
        with tenant_transaction(shop.schema) as conn:
            conn.execute("lock table dining_tables in exclusive mode")
            ordering = pool.submit(_dine_in, shop, table["qr_token"], key="terrace-2-000000000")
            wait_for_lock_waiters("dining_tables")
            conn.execute(
                "update dining_tables set qr_version = qr_version + 1 where id = %s", [table["id"]]
            )
        response = ordering.result()
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["path"] == "fulfilment.table_token"
    assert execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"] == 0


def test_labels_that_look_the_same_are_one_label(shop: Shop) -> None:
    """A double space, a no-break space or a zero-width space would make a second "Patio 1"."""
    assert (
        shop.client.post(
            TABLES, host=shop.host, headers=shop.owner(), json={"label": "Patio\u00a0 1"}
        ).json()["label"]
        == "Patio 1"
    )
    for lookalike in ("Patio  1", "Patio\u00a01", "Patio 1\u200b", "patio 1", "PATIO 1"):
        response = shop.client.post(
            TABLES, host=shop.host, headers=shop.owner(), json={"label": lookalike}
        )
        assert response.status_code == 409, (lookalike, response.text)


def test_labels_one_up_to_case_are_one_label(shop: Shop) -> None:
    """Full case folding, not only lower case: "STRASSE" is "Straße", "ΟΔΟΣ" is "οδος"."""
    street = _create(shop, "Straße 1")
    _create(shop, "ΟΔΟΣ")
    for clash in ("STRASSE 1", "strasse 1", "οδος", "Οδος"):
        response = shop.client.post(
            TABLES, host=shop.host, headers=shop.owner(), json={"label": clash}
        )
        assert response.status_code == 409, (clash, response.text)
    bar = _create(shop, "Bar")
    renamed = shop.client.put(
        f"{TABLES}/{bar['id']}",
        host=shop.host,
        headers=shop.owner(),
        json={"label": "STRASSE 1", "expected_version": 1},
    )
    assert renamed.status_code == 409, renamed.text
    # A table keeps its own label under another case.
    respelled = shop.client.put(
        f"{TABLES}/{street['id']}",
        host=shop.host,
        headers=shop.owner(),
        json={"label": "STRASSE 1", "seats": 6, "expected_version": 1},
    )
    assert respelled.status_code == 200, respelled.text
    labels = [
        t["label"]
        for t in shop.client.get(TABLES, host=shop.host, headers=shop.owner()).json()["tables"]
    ]
    assert sorted(labels) == sorted(["STRASSE 1", "ΟΔΟΣ", "Bar"])


def _tamper(token: str) -> str:
    table_hex, version, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{table_hex}.{version}.{flipped}"


@pytest.mark.parametrize(
    "make_token",
    [
        _tamper,
        lambda token: token.replace(".1.", ".2.", 1),  # a version the signature was not made for
        lambda token: f"{uuid.uuid4().hex}.{token.split('.', 1)[1]}",  # another table's id
        lambda token: token[:-1],
        lambda token: "not-a-token",
    ],
)
def test_tampered_codes_open_no_table(module_shop: Shop, make_token) -> None:
    shop = module_shop
    token = make_token(_create(shop, f"T{uuid.uuid4().hex[:6]}")["qr_token"])
    assert _lookup(shop, token).status_code == 404
    response = _dine_in(shop, token)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "fulfilment.table_token"


def test_another_restaurants_code_opens_no_table(shop: Shop, client, tenants, auth_header) -> None:
    other = open_shop(client, tenants, auth_header)
    theirs = _create(other, "T1")
    _create(shop, "T1")
    assert _lookup(shop, theirs["qr_token"]).status_code == 404
    assert _dine_in(shop, theirs["qr_token"]).status_code == 422


def test_rotating_a_code_retires_the_old_one(shop: Shop) -> None:
    table = _create(shop)
    rotated = shop.client.post(f"{TABLES}/{table['id']}/qr", host=shop.host, headers=shop.owner())
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["qr_version"] == 2 and fresh["qr_token"] != table["qr_token"]
    assert _lookup(shop, table["qr_token"]).status_code == 404
    assert _dine_in(shop, table["qr_token"]).status_code == 422
    assert _lookup(shop, fresh["qr_token"]).status_code == 200
    assert _dine_in(shop, fresh["qr_token"]).status_code == 201


def test_a_restaurant_has_at_most_500_tables_so_every_one_is_listed(shop: Shop) -> None:
    # The admin list shows 500 tables; one created past that could never be found again.
    execute(
        f"insert into {shop.schema}.dining_tables (label)"
        " select 'Room ' || lpad(g::text, 4, '0') from generate_series(1, 499) g"
    )
    last = shop.client.post(TABLES, host=shop.host, headers=shop.owner(), json={"label": "Bar"})
    assert last.status_code == 201, last.text
    refused = shop.client.post(TABLES, host=shop.host, headers=shop.owner(), json={"label": "Z"})
    assert refused.status_code == 409 and "delete one first" in refused.json()["detail"]
    listed = shop.client.get(TABLES, host=shop.host, headers=shop.owner()).json()["tables"]
    assert len(listed) == 500 and "Bar" in {table["label"] for table in listed}


def test_if_match_star_keeps_the_expected_version_sent_with_it(shop: Shop) -> None:
    # `If-Match: *` matches any version, so the body's expected_version still decides.
    table = shop.client.post(TABLES, host=shop.host, headers=shop.owner(), json={"label": "A1"})
    path, star = f"{TABLES}/{table.json()['id']}", {**shop.owner(), "If-Match": "*"}
    renamed = shop.client.put(
        path, host=shop.host, headers=star, json={"label": "A2", "expected_version": 1}
    )
    assert renamed.status_code == 200, renamed.text
    stale = shop.client.put(
        path, host=shop.host, headers=star, json={"label": "A3", "expected_version": 1}
    )
    assert stale.status_code == 409
    unnamed = shop.client.put(path, host=shop.host, headers=star, json={"label": "A3"})
    assert unnamed.status_code == 422 and "names no version" in unnamed.json()["detail"]


def test_table_qr_token_is_not_written_to_the_access_log(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    # A QR token lets anyone order to that table: the access log names it, never shows it.
    created = shop.client.post(
        "/api/v1/admin/tables", host=shop.host, headers=shop.owner(), json={"label": "Window"}
    )
    assert created.status_code == 201, created.text
    token = created.json()["qr_token"]
    signature = token.rsplit(".", 1)[1]

    with caplog.at_level(logging.INFO, logger="stelly"):
        looked_up = shop.client.get(f"/api/v1/store/tables/{token}", host=shop.host)
    assert looked_up.status_code == 200, looked_up.text

    access_lines = [r.getMessage() for r in caplog.records if r.name == "stelly.http"]
    assert access_lines, "no access log line captured"
    assert [line for line in access_lines if signature in line] == []
    assert "GET /api/v1/store/tables/{token} → 200" in access_lines


def test_access_log_names_only_the_token_segment(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    # A short bogus token ("v1") is replaced as the segment it is, not wherever it occurs.
    with caplog.at_level(logging.INFO, logger="stelly"):
        looked_up = shop.client.get("/api/v1/store/tables/v1", host=shop.host)
    assert looked_up.status_code == 404, looked_up.text
    lines = [r.getMessage() for r in caplog.records if r.name == "stelly.http"]
    assert "GET /api/v1/store/tables/{token} → 404" in lines, lines


def _post_label(shop: Shop, label: str):
    return shop.client.post(TABLES, host=shop.host, headers=shop.owner(), json={"label": label})


def test_a_label_that_nfkc_lengthens_past_40_is_422_not_500(shop: Shop) -> None:
    # The stored (NFKC) spelling is what must fit: one "½" becomes three characters.
    label = "Long window booth by the fireplace  4½"  # 38 characters, 40 after NFKC: fits
    assert _post_label(shop, label).status_code == 201
    label = "Corner booth beside the kitchen pass, 4½"  # 40 characters, 42 after NFKC
    assert len(label) == 40
    response = _post_label(shop, label)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["path"] == "label"


def test_a_rename_that_nfkc_lengthens_past_40_is_422_not_500(shop: Shop) -> None:
    # The same for PUT: "ﷺ" is one character typed and eighteen stored.
    table = _post_label(shop, "Terrace").json()
    response = shop.client.put(
        f"{TABLES}/{table['id']}",
        host=shop.host,
        headers=shop.owner(),
        json={"label": "Terrace \ufdfa\ufdfa", "expected_version": table["version"]},
    )
    assert response.status_code == 422, response.text


def _relabelled(shop: Shop, table: dict) -> None:
    """Another manager changes the table: it moves on to version 2."""
    changed = shop.client.put(
        f"{TABLES}/{table['id']}",
        host=shop.host,
        headers={**shop.owner(), "If-Match": '"1"'},
        json={"label": f"{table['label']} (window)", "seats": 2},
    )
    assert changed.status_code == 200 and changed.headers["etag"] == '"2"', changed.text


@pytest.mark.parametrize(
    ("stale", "status"),
    [({"headers": {"If-Match": '"1"'}}, 412), ({"params": {"expected_version": "1"}}, 409)],
    ids=["if-match", "expected-version"],
)
def test_a_table_deleted_by_a_stale_version_stays(shop: Shop, stale: dict, status: int) -> None:
    # As every other row: a delete naming a version someone has since changed is refused, and
    # the table and its printed QR codes keep working.
    table = _create(shop, f"W{uuid.uuid4().hex[:6]}")
    _relabelled(shop, table)
    headers = {**shop.owner(), **stale.get("headers", {})}
    refused = shop.client.delete(
        f"{TABLES}/{table['id']}", host=shop.host, headers=headers, params=stale.get("params")
    )
    assert refused.status_code == status, refused.text
    assert _lookup(shop, table["qr_token"]).status_code == 200
    current = shop.client.delete(
        f"{TABLES}/{table['id']}", host=shop.host, headers={**shop.owner(), "If-Match": '"2"'}
    )
    assert current.status_code == 204
    assert _lookup(shop, table["qr_token"]).status_code == 404
