"""Seed data for the storefront benchmark: a published menu of 120 items and 30 modifier groups.

`seed_menu` builds it through the admin API (import, then publish), so the benchmark reads what a
manager would have made. It takes a base URL (`http://127.0.0.1:7071`, any running devhost) or
an in-process test client (`devhost.testclient.TestClient`).
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

GROUP_KINDS = ("Size", "Crust", "Sauce", "Cheese", "Toppings", "Extras", "Dips", "Sides", "Spice")
CATEGORY_NAMES = ("Starters", "Pizza", "Pasta", "Salads", "Burgers", "Desserts", "Drinks", "Kids")
ALLERGEN_CYCLE = (["gluten"], ["milk"], ["gluten", "milk"], [], ["eggs", "mustard"], ["sesame"])


class ClientLike(Protocol):
    def post(self, path: str, **kwargs: Any) -> Any: ...


def _group(index: int) -> dict[str, Any]:
    options = 4 + index % 5
    maximum = 1 + index % 3
    return {
        "name": f"{GROUP_KINDS[index % len(GROUP_KINDS)]} {index // len(GROUP_KINDS) + 1}",
        "min": index % 2,
        "max": maximum,
        "free_quantity": index % 2,
        "options": [
            {"name": f"Option {index + 1}.{n + 1}", "price_delta": 50 * n} for n in range(options)
        ],
    }


def menu_document(*, items: int = 120, groups: int = 30) -> dict[str, Any]:
    """An import document (design §5): items over eight categories, groups shared.

    Each item carries two or three of the groups, so every group is used by several items.
    """
    all_groups = [_group(i) for i in range(groups)]
    categories: list[dict[str, Any]] = [{"name": name, "items": []} for name in CATEGORY_NAMES]
    for i in range(items):
        picked = {(i + k * 7) % groups for k in range(2 + i % 2)} if groups else set()
        categories[i % len(categories)]["items"].append(
            {
                "name": f"Dish {i + 1}",
                "description": f"House dish number {i + 1}, made fresh to order.",
                "price": 450 + 25 * (i % 40),
                "station": ("grill", "pizza", "cold", "bar")[i % 4],
                "allergens": ALLERGEN_CYCLE[i % len(ALLERGEN_CYCLE)],
                "modifier_groups": [all_groups[g] for g in sorted(picked)],
            }
        )
    return {"categories": categories}


def _post(
    target: str | ClientLike, path: str, *, host: str, token: str, body: dict[str, Any] | None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    if isinstance(target, str):
        response = httpx.post(
            target.rstrip("/") + path, headers={**headers, "Host": host}, json=body, timeout=30
        )
    else:
        response = target.post(path, host=host, headers=headers, json=body)
    if response.status_code >= 300:
        raise RuntimeError(f"POST {path} → {response.status_code}: {response.text}")
    return response.json()


def seed_menu(
    target: str | ClientLike, *, host: str, token: str, items: int = 120, groups: int = 30
) -> dict[str, Any]:
    """Import and publish the benchmark menu on host's tenant (token: owner or manager of it).

    Returns `{"import": {...counts}, "publish": {"version", "etag", ...}}`.
    """
    document = menu_document(items=items, groups=groups)
    imported = _post(target, "/api/v1/admin/menu/import", host=host, token=token, body=document)
    published = _post(target, "/api/v1/admin/menu/publish", host=host, token=token, body=None)
    return {"import": imported, "publish": published}
