"""A manager's view of orders: a business day's orders and sales, and one order with its money
and who moved it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.orders.models import OrderIn
from shared.orders.placement import place_order
from shared.orders.state_machine import STATUSES
from shared.orders.tickets import business_date
from tests.order_fixtures import Shop, open_shop, shop_fixture  # noqa: F401
from tests.storefront_helpers import error_paths

ORDERS = "/api/v1/admin/orders"


def manager_get(shop: Shop, path: str, role: str = "manager", **params) -> dict:
    response = shop.client.get(
        path, host=shop.host, headers=shop.auth(role, tenant=shop.slug), params=params
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def test_todays_orders_and_sales_leave_cancelled_orders_out_of_the_takings(shop: Shop) -> None:
    pizza = shop.place(shop.order_body(shop.pizza_line("Ham", size="Large"), tip=150))
    colas = shop.place(shop.order_body(shop.cola_line(quantity=3)))
    cancelled = shop.place(shop.order_body(shop.cola_line()))
    moved = shop.transition(cancelled, "cancelled", 1, reason="Customer called")
    assert moved.status_code == 200, moved.text

    day = manager_get(shop, ORDERS)

    assert day["date"] == datetime.now(UTC).date().isoformat()  # the shop keeps UTC
    listed = [(o["ticket_number"], o["status"], o["item_count"], o["total"]) for o in day["orders"]]
    assert listed == [
        (pizza["ticket_number"], "placed", 1, pizza["totals"]["total"]),
        (colas["ticket_number"], "placed", 3, colas["totals"]["total"]),
        (cancelled["ticket_number"], "cancelled", 1, cancelled["totals"]["total"]),
    ]
    assert day["orders"][0]["fulfilment"]["phone"] == "+44 20 7946 0000"
    summary = day["summary"]
    assert summary["orders"] == 3
    # Every status is named, 0 where the day has none (a dashboard reads each key).
    assert summary["by_status"] == dict.fromkeys(STATUSES, 0) | {"placed": 2, "cancelled": 1}
    paid = (pizza["totals"], colas["totals"])
    assert summary["sales"] == [
        {
            "currency": "EUR",
            "orders": 2,
            **{key: sum(t[key] for t in paid) for key in ("subtotal", "tax", "tip", "total")},
            "tax_included": 0,
        }
    ]
    # What sold: the cancelled Cola is not counted, most sold first.
    assert summary["items"] == [
        {"name": "Cola", "currency": "EUR", "quantity": 3, "orders": 1,
         "sales": colas["totals"]["subtotal"]},
        {"name": "Margherita", "currency": "EUR", "quantity": 1, "orders": 1,
         "sales": pizza["totals"]["subtotal"]},
    ]  # fmt: skip


def test_one_order_shows_its_prices_and_who_moved_it(shop: Shop) -> None:
    placed = shop.place(shop.order_body(shop.pizza_line("Ham", "Olives"), tip=100))
    accepted = shop.transition(placed, "accepted", 1, by="chef-kim")
    assert accepted.status_code == 200, accepted.text

    order = manager_get(shop, f"{ORDERS}/{placed['id']}", role="owner")

    assert order["totals"] == {
        **placed["totals"],
        "tax_rate_bp": 2000,
        "tax_inclusive": False,
    }
    [line] = order["lines"]
    assert line["line_total"] == placed["totals"]["subtotal"]
    assert [m["name"] for m in line["modifiers"]] == ["Regular", "Ham", "Olives"]
    assert sum(m["charged"] for m in line["modifiers"]) + 900 == line["unit_price"]
    history = [(step["from"], step["to"], step["by"]) for step in order["history"]]
    assert history == [(None, "placed", "customer"), ("placed", "accepted", "staff:chef-kim")]
    assert order["menu_version"] >= 1 and order["status"] == "accepted"


@pytest.mark.parametrize(
    ("zone", "late", "early"),
    [
        # West of UTC the late order's UTC date is already the next day's ...
        ("America/New_York", "2026-06-01T23:59:00-04:00", "2026-06-02T00:00:30-04:00"),
        # ... east of it both orders fall on one UTC date.
        ("Asia/Tokyo", "2026-06-01T23:59:00+09:00", "2026-06-02T00:00:30+09:00"),
    ],
)
def test_a_day_is_the_restaurants_local_date(
    client, tenants, auth_header, zone: str, late: str, early: str
) -> None:
    """Orders at 23:59 and 00:00:30 local belong to two business days, whatever UTC dates they
    fell on, and the second opens its day's tickets at #0001."""
    shop = open_shop(client, tenants, auth_header, settings={"timezone": zone})
    order = OrderIn.model_validate(shop.order_body(shop.cola_line()))
    at = {moment: datetime.fromisoformat(moment).astimezone(UTC) for moment in (late, early)}
    placed = {
        moment: place_order(
            shop.tenant, order, idempotency_key=None, client_ip="10.0.0.1", now=at[moment]
        ).body
        for moment in (late, early)
    }

    first = manager_get(shop, ORDERS, date="2026-06-01")
    second = manager_get(shop, ORDERS, date="2026-06-02")

    assert [o["placed_at"] for o in first["orders"]] == [at[late].isoformat()]
    assert [o["placed_at"] for o in second["orders"]] == [at[early].isoformat()]
    assert [o["ticket_number"] for o in first["orders"] + second["orders"]] == ["#0001", "#0001"]
    assert (first["summary"]["orders"], second["summary"]["orders"]) == (1, 1)
    late_order = manager_get(shop, f"{ORDERS}/{placed[late]['id']}")
    assert late_order["business_date"] == "2026-06-01"
    quiet = manager_get(shop, ORDERS, date="2026-06-03")
    assert quiet["orders"] == [] and quiet["summary"]["sales"] == quiet["summary"]["items"] == []


def test_the_default_day_is_today_in_the_restaurants_zone(client, tenants, auth_header) -> None:
    """Without ?date= the day is the restaurant's local today, here a zone whose date differs
    from UTC's (UTC+14 from 10:00 UTC, UTC-11 before it)."""
    now = datetime.now(UTC)
    zone = "Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago"
    shop = open_shop(client, tenants, auth_header, settings={"timezone": zone})
    placed = shop.place(shop.order_body(shop.cola_line()))

    day = manager_get(shop, ORDERS)

    local_today = business_date(datetime.now(UTC), zone)
    assert local_today != datetime.now(UTC).date()
    assert day["date"] == local_today.isoformat()
    assert [o["id"] for o in day["orders"]] == [placed["id"]]


def test_a_day_in_two_currencies_keeps_each_currencys_sales_apart(shop: Shop) -> None:
    """The restaurant changes to GBP mid-day and publishes again: the day's sales are one entry
    per currency, never added together."""
    euros = shop.place(shop.order_body(shop.cola_line(quantity=2)))
    owner = shop.owner()
    settings = shop.client.get("/api/v1/admin/settings", host=shop.host, headers=owner).json()
    saved = shop.client.put(
        "/api/v1/admin/settings", host=shop.host, headers=owner,
        json={**settings, "currency": "GBP"},
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    republished = shop.client.post("/api/v1/admin/menu/publish", host=shop.host, headers=owner)
    assert republished.status_code == 201, republished.text
    pounds = shop.place(shop.order_body(shop.cola_line()))
    assert (euros["totals"]["currency"], pounds["totals"]["currency"]) == ("EUR", "GBP")

    summary = manager_get(shop, ORDERS)["summary"]

    money = ("subtotal", "tax", "tip", "total")
    assert summary["sales"] == [
        {"currency": "EUR", "orders": 1, "tax_included": 0}
        | {key: euros["totals"][key] for key in money},
        {"currency": "GBP", "orders": 1, "tax_included": 0}
        | {key: pounds["totals"][key] for key in money},
    ]


def test_a_day_mixing_tax_inclusive_and_exclusive_prices_adds_up(shop: Shop) -> None:
    """The restaurant switches to prices that include tax mid-day: each order keeps its own
    tax, and the day's `tax_included` (the tax already inside the subtotal) makes
    subtotal + tax - tax_included + tip the total charged."""
    pizza = shop.place(shop.order_body(shop.pizza_line("Ham"), tip=100))  # 20 % on top
    owner = shop.owner()
    settings = shop.client.get("/api/v1/admin/settings", host=shop.host, headers=owner).json()
    inclusive = {**settings, "tax": {"rate_bp": 2000, "inclusive": True}}
    saved = shop.client.put("/api/v1/admin/settings", host=shop.host, headers=owner, json=inclusive)
    assert saved.status_code == 200, saved.text
    colas = shop.place(shop.order_body(shop.cola_line(quantity=2)))  # 20 % inside the price

    [sales] = manager_get(shop, ORDERS)["summary"]["sales"]
    order = manager_get(shop, f"{ORDERS}/{colas['id']}")

    assert order["totals"]["tax_inclusive"] is True
    assert order["totals"]["total"] == colas["totals"]["subtotal"]  # the tax is inside it
    assert sales["tax"] == pizza["totals"]["tax"] + colas["totals"]["tax"]
    assert sales["tax_included"] == colas["totals"]["tax"] > 0
    charged = pizza["totals"]["total"] + colas["totals"]["total"]
    assert sales["total"] == charged
    assert sales["subtotal"] + sales["tax"] - sales["tax_included"] + sales["tip"] == charged


def test_an_order_whose_table_was_deleted_still_shows_its_table(shop: Shop) -> None:
    """Orders keep the label they were placed at, in the day and in the order."""
    table = shop.client.post(
        "/api/v1/admin/tables", host=shop.host, headers=shop.owner(), json={"label": "Terrace 4"}
    )
    assert table.status_code == 201, table.text
    body = {
        "lines": [shop.cola_line()],
        "fulfilment": {"type": "dine_in", "table_token": table.json()["qr_token"]},
    }
    placed = shop.place(body)
    removed = shop.client.delete(
        f"/api/v1/admin/tables/{table.json()['id']}", host=shop.host, headers=shop.owner(),
        params={"expected_version": table.json()["version"]},
    )  # fmt: skip
    assert removed.status_code == 204, removed.text

    [listed] = manager_get(shop, ORDERS)["orders"]
    order = manager_get(shop, f"{ORDERS}/{placed['id']}")

    assert listed["fulfilment"] == {"type": "dine_in", "table": "Terrace 4"}
    assert order["fulfilment"] == {"type": "dine_in", "table": "Terrace 4"}


def test_items_sold_count_an_order_once_however_many_lines_it_has(shop: Shop) -> None:
    two_lines = shop.place(shop.order_body(shop.pizza_line("Ham"), shop.pizza_line("Olives")))
    one_line = shop.place(shop.order_body(shop.pizza_line()))

    [pizzas] = manager_get(shop, ORDERS)["summary"]["items"]

    sold = two_lines["totals"]["subtotal"] + one_line["totals"]["subtotal"]
    assert pizzas == {"name": "Margherita", "currency": "EUR", "quantity": 3, "orders": 2,
                      "sales": sold}  # fmt: skip


def test_a_day_comes_a_page_at_a_time(shop: Shop) -> None:
    placed = [shop.place() for _ in range(3)]

    first = manager_get(shop, ORDERS, limit=2)
    rest = manager_get(shop, ORDERS, limit=2, cursor=first["next_cursor"])

    assert [o["id"] for o in first["orders"] + rest["orders"]] == [o["id"] for o in placed]
    assert first["next_cursor"] == 2 and rest["next_cursor"] is None
    assert manager_get(shop, ORDERS, limit=3)["next_cursor"] is None  # exactly one full page
    assert rest["summary"]["orders"] == 3  # the summary is the whole day's, not the page's


def test_a_day_comes_fifty_orders_a_page_by_default(client, tenants, auth_header) -> None:
    shop = open_shop(client, tenants, auth_header)
    order = OrderIn.model_validate(shop.order_body(shop.cola_line()))
    start = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    for index in range(51):
        place_order(
            shop.tenant, order, idempotency_key=None, client_ip=f"10.7.0.{index + 1}",
            now=start + timedelta(seconds=index),
        )  # fmt: skip

    day = manager_get(shop, ORDERS, date="2026-06-01")

    assert len(day["orders"]) == 50 and day["next_cursor"] == 50
    rest = manager_get(shop, ORDERS, date="2026-06-01", cursor=day["next_cursor"])
    assert [o["ticket_number"] for o in rest["orders"]] == ["#0051"]


def test_a_status_filter_takes_spaces_after_commas_and_a_trailing_comma(shop: Shop) -> None:
    """A comma-separated list as a person types it, as for the kitchen."""
    placed, accepted, cancelled = (shop.place() for _ in range(3))
    assert shop.transition(accepted, "accepted", 1).status_code == 200
    assert shop.transition(cancelled, "cancelled", 1, reason="No dough").status_code == 200

    day = manager_get(shop, ORDERS, status="placed, accepted,")

    assert [o["id"] for o in day["orders"]] == [placed["id"], accepted["id"]]


def test_a_status_filter_pages_its_own_orders_and_leaves_the_summary_whole(shop: Shop) -> None:
    """Accepted orders 1, 3 and 4 come two a page; each filtered page's summary still counts
    all four orders and their sales."""
    placed = [shop.place() for _ in range(4)]
    for index in (0, 2, 3):
        moved = shop.transition(placed[index], "accepted", 1)
        assert moved.status_code == 200, moved.text

    first = manager_get(shop, ORDERS, status="accepted", limit=2)
    rest = manager_get(shop, ORDERS, status="accepted", limit=2, cursor=first["next_cursor"])

    assert [o["id"] for o in first["orders"]] == [placed[0]["id"], placed[2]["id"]]
    assert first["next_cursor"] == 3
    assert [o["id"] for o in rest["orders"]] == [placed[3]["id"]]
    assert rest["next_cursor"] is None
    for page in (first, rest):
        summary = page["summary"]
        assert summary["orders"] == 4
        assert (summary["by_status"]["placed"], summary["by_status"]["accepted"]) == (1, 3)
        assert summary["sales"][0]["orders"] == 4
        assert summary["sales"][0]["total"] == sum(o["totals"]["total"] for o in placed)
        [pizzas] = summary["items"]
        assert (pizzas["name"], pizzas["quantity"], pizzas["orders"]) == ("Margherita", 4, 4)


def test_orders_are_for_managers_and_owners_of_that_restaurant(
    shop: Shop, client, tenants, auth_header
) -> None:
    order = shop.place()
    other = open_shop(client, tenants, auth_header)
    for headers in (shop.staff(), other.owner()):
        for path in (ORDERS, f"{ORDERS}/{order['id']}"):
            response = client.get(path, host=shop.host, headers=headers)
            assert response.status_code == 403, response.text
    # Another restaurant's manager on its own host never finds this order.
    foreign = client.get(f"{ORDERS}/{order['id']}", host=other.host, headers=other.owner())
    assert foreign.status_code == 404 and "Ada" not in foreign.text
    assert manager_get(other, ORDERS, role="owner")["orders"] == []


@pytest.mark.parametrize("order_id", [str(uuid.uuid4()), "not-an-id"])
def test_an_unknown_order_is_404(shop: Shop, order_id: str) -> None:
    response = shop.client.get(f"{ORDERS}/{order_id}", host=shop.host, headers=shop.owner())
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == "No such order"


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"date": "2026-02-30"}, "query.date"),
        ({"date": "yesterday"}, "query.date"),
        ({"status": "eaten"}, "query.status"),
        ({"status": ","}, "query.status"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"cursor": 0}, "query.cursor"),
        ({"cursor": 2**31}, "query.cursor"),  # beyond any ticket number: not an empty page
        ({"day": "2026-06-01"}, "query.day"),
    ],
)
def test_a_bad_day_request_names_the_parameter(shop: Shop, params: dict, path: str) -> None:
    response = shop.client.get(ORDERS, host=shop.host, headers=shop.owner(), params=params)
    assert error_paths(response) == [path]
