"""Web PubSub group names: who receives which event (design §6)."""

from __future__ import annotations

from collections.abc import Iterable


def kitchen_group(slug: str) -> str:
    """Every ticket of a restaurant."""
    return f"t.{slug}.kitchen"


def station_group(slug: str, station: str) -> str:
    """Tickets with at least one line for station (`grill`, `bar`)."""
    return f"t.{slug}.station.{station}"


def order_group(order_id: str) -> str:
    """One customer's order; order ids are random UUIDs, unique across restaurants."""
    return f"o.{order_id}"


def order_event_groups(slug: str, order_id: str, stations: Iterable[str | None]) -> list[str]:
    """The kitchen, each station that has a line on the order, and the customer."""
    named = sorted({station for station in stations if station})
    return [
        kitchen_group(slug),
        *(station_group(slug, station) for station in named),
        order_group(order_id),
    ]
