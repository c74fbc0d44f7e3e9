"""The hourly housekeeping removes item photo files no menu shows any more, and only those.

The clean-up after each upload looks in that item's folder alone; these are the files it never
reaches. Uploads go through real upload URLs and the trigger; the sweep runs through the app's
own timer function, on Azurite and Postgres.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.images import blobs
from tests.devhost.durable_fixtures import loop_fixture  # noqa: F401
from tests.housekeeping_helpers import engine_fixture, run_housekeeping  # noqa: F401
from tests.image_fixtures import (  # noqa: F401
    assets_under,
    deliver,
    download_asset,
    encoded,
    grant_for,
    menu_fixture,
    photo,
    put_with_grant,
    uploads_name,
)
from tests.storefront_helpers import Api, customer_api, ok


def give_photo(api: Api, app_functions: list, item_id: str, size: tuple[int, int]) -> None:
    grant = grant_for(api, item_id)
    assert put_with_grant(grant, encoded(photo(*size), "JPEG")).status_code == 201
    deliver(app_functions, uploads_name(grant))
    assert ok(api.get(f"/v1/admin/menu/items/{item_id}"))["image_status"] == "ready"


def storefront_photo(api: Api) -> str:
    menu = ok(customer_api(api.client, api.tenant).get("/v1/store/menu"))
    return menu["categories"][0]["items"][0]["image"]["renditions"][-1]["url"]


def test_a_carried_photo_goes_once_the_new_item_has_another(
    menu, app_functions, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blobs, "RENDITION_GRACE", timedelta(0))  # the files are months old
    api, item = menu
    give_photo(api, app_functions, item["id"], (800, 600))
    old_folder = f"{api.tenant.slug}/item-{item['id']}/"
    files = assets_under(old_folder)
    document = {"categories": [{"name": "Pizza", "items": [{"name": "Margherita", "price": 990}]}]}
    assert ok(api.post("/v1/admin/menu/import", json=document))["photos_kept"] == 1
    ok(api.post("/v1/admin/menu/publish"), 201)

    # The import's item still shows the photo in the old folder: the sweep keeps it.
    run_housekeeping(app_functions, engine)
    assert assets_under(old_folder) == files
    assert storefront_photo(api).split("/assets/", 1)[1].startswith(old_folder)

    # It gets a photo of its own: nothing shows the old folder's files any more.
    imported = ok(api.get("/v1/admin/menu"))["categories"][0]["items"][0]["id"]
    give_photo(api, app_functions, imported, (640, 480))
    run_housekeeping(app_functions, engine)
    assert assets_under(old_folder) == []
    shown = storefront_photo(api)
    assert f"/item-{imported}/" in shown
    assert download_asset(shown)[0]  # the new photo's files are all still there


def test_a_deleted_items_photo_goes_once_the_live_menu_drops_it(
    menu, app_functions, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, item = menu
    give_photo(api, app_functions, item["id"], (800, 600))
    folder = f"{api.tenant.slug}/item-{item['id']}/"
    files = assets_under(folder)
    assert api.delete(f"/v1/admin/menu/items/{item['id']}").status_code == 204

    # Not republished yet: customers still see the dish and its photo.
    monkeypatch.setattr(blobs, "RENDITION_GRACE", timedelta(0))
    run_housekeeping(app_functions, engine)
    assert assets_under(folder) == files
    assert download_asset(storefront_photo(api))[0]

    ok(api.post("/v1/admin/menu/publish"), 201)
    monkeypatch.undo()
    # Files younger than the grace stay (a storefront may have just loaded a menu naming them).
    run_housekeeping(app_functions, engine)
    assert assets_under(folder) == files

    monkeypatch.setattr(blobs, "RENDITION_GRACE", timedelta(0))
    run_housekeeping(app_functions, engine)
    assert assets_under(folder) == []
