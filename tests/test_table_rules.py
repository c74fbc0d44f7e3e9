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
