"""Dining tables: label and seat limits, versions, listing order, labels saved before folding."""

from __future__ import annotations

from tests.conftest import execute
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401  (shop)

TABLES = "/api/v1/admin/tables"


def _table(shop: Shop, body: dict):
    return shop.client.post(TABLES, host=shop.host, headers=shop.owner(), json=body)


def test_a_table_label_of_exactly_40_characters_fits(shop: Shop) -> None:
    """40 characters is the most allowed, itself included."""
    label = "Conservatory table by the garden door 12"
    assert len(label) == 40
    created = _table(shop, {"label": label})
    assert created.status_code == 201, created.text
    assert created.json()["label"] == label
    assert _table(shop, {"label": label + "3"}).status_code == 422


def test_a_table_seats_at_most_100(shop: Shop) -> None:
    """100 seats at most."""
    assert _table(shop, {"label": "Banquet", "seats": 100}).status_code == 201
    too_many = _table(shop, {"label": "Hall", "seats": 101})
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["errors"][0]["path"] == "seats"


def test_rotating_a_code_is_a_new_table_version(shop: Shop) -> None:
    """The table's body (its qr_token and qr_url) changed: an editor holding version 1 is told."""
    table = _table(shop, {"label": "Booth"}).json()
    path = f"{TABLES}/{table['id']}"
    rotated = shop.client.post(f"{path}/qr", host=shop.host, headers=shop.owner())
    assert rotated.status_code == 200
    assert (rotated.json()["version"], rotated.headers["etag"]) == (2, '"2"')
    stale = shop.client.put(
        path, host=shop.host, headers=shop.owner(), json={"label": "Booth", "expected_version": 1}
    )
    assert stale.status_code == 409, stale.text


def test_seats_can_change_on_a_table_whose_label_an_older_one_folds_to(shop: Shop) -> None:
    """Two labels saved before full case folding ("Straße 1", "STRASSE 1") do not make every
    other edit of either table a 409."""
    execute(f"insert into {shop.schema}.dining_tables (label) values ('Straße 1'), ('STRASSE 1')")
    listed = shop.client.get(TABLES, host=shop.host, headers=shop.owner()).json()["tables"]
    street = next(t for t in listed if t["label"] == "Straße 1")
    changed = shop.client.put(
        f"{TABLES}/{street['id']}",
        host=shop.host,
        headers=shop.owner(),
        json={"label": "Straße 1", "seats": 6, "expected_version": street["version"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["seats"] == 6


def test_tables_are_listed_alphabetically_whatever_their_case(shop: Shop) -> None:
    """Under the database's C collation capitals would come first; the list ignores case."""
    for label in ("Patio", "bar", "Window"):
        assert _table(shop, {"label": label}).status_code == 201
    listed = shop.client.get(TABLES, host=shop.host, headers=shop.owner()).json()["tables"]
    assert [t["label"] for t in listed] == ["bar", "Patio", "Window"]


def _patch(shop: Shop, table: dict, body: dict, headers: dict | None = None):
    path = f"{TABLES}/{table['id']}"
    return shop.client.patch(path, host=shop.host, headers={**shop.owner(), **(headers or {})},
                             json=body)  # fmt: skip


def test_a_patch_changes_only_what_it_sends(shop: Shop) -> None:
    """A PUT replaces (seats not sent are cleared); a PATCH keeps what it leaves out, and null
    clears the seats."""
    table = _table(shop, {"label": "Window", "seats": 4}).json()
    printed = table["qr_token"]
    seated = _patch(shop, table, {"seats": 6, "expected_version": 1})
    assert seated.status_code == 200, seated.text
    assert (seated.json()["label"], seated.json()["seats"]) == ("Window", 6)
    assert seated.headers["etag"] == '"2"'
    renamed = _patch(shop, table, {"label": "Window 2"}, {"If-Match": '"2"'}).json()
    assert (renamed["label"], renamed["seats"], renamed["version"]) == ("Window 2", 6, 3)
    cleared = _patch(shop, table, {"seats": None, "expected_version": 3}).json()
    assert (cleared["label"], cleared["seats"]) == ("Window 2", None)
    # The code printed when the table was made still opens it, under its new label.
    assert renamed["qr_token"] == cleared["qr_token"] == printed
    opened = shop.client.get(f"/api/v1/store/tables/{printed}", host=shop.host)
    assert opened.json() == {"label": "Window 2", "table_token": printed}


def test_a_patch_is_refused_when_it_changes_nothing_or_is_stale(shop: Shop) -> None:
    table = _table(shop, {"label": "Booth", "seats": 2}).json()
    _table(shop, {"label": "Bar"})
    refusals = [
        ({"expected_version": 1}, {}, 422, "body"),
        ({"label": None, "expected_version": 1}, {}, 422, "label"),
        ({"seats": 0, "expected_version": 1}, {}, 422, "seats"),
        ({"seats": 3}, {}, 422, "expected_version"),
        ({"seats": 3, "expected_version": 7}, {}, 409, None),
        ({"seats": 3}, {"If-Match": '"7"'}, 412, None),
        ({"label": "BAR", "expected_version": 1}, {}, 409, None),
    ]
    for body, headers, status, path in refusals:
        response = _patch(shop, table, body, headers)
        assert response.status_code == status, (body, response.text)
        if path is not None:
            assert [e["path"] for e in response.json()["errors"]] == [path], body
    listed = shop.client.get(f"{TABLES}/{table['id']}", host=shop.host, headers=shop.owner())
    assert (listed.json()["label"], listed.json()["seats"], listed.json()["version"]) == (
        "Booth", 2, 1,
    )  # fmt: skip
