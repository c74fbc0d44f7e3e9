"""The upload trigger on real Azurite and Postgres: renditions, republish, duplicates, clean-up.

Uploads go through the upload URL with a real HTTP PUT; the trigger runs through devhost's
watcher (`poll_once`) or is invoked with an InputStream as the host would.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from shared.config import get_settings
from shared.images import blobs
from shared.images.blobs import IMMUTABLE
from shared.images.renditions import render_upload
from shared.images.targets import parse_upload_name
from tests.conftest import execute, run_in_turn_behind
from tests.image_fixtures import (  # noqa: F401
    assets_under,
    deliver,
    download_asset,
    encoded,
    grant_for,
    menu_fixture,
    phone_jpeg,
    photo,
    poll_once,
    put_with_grant,
    quarantine_reason,
    upload,
    upload_exists,
    uploads_name,
)
from tests.pool_sizes import pool_of
from tests.storefront_helpers import Api, build_small_menu, customer_api, ok, owner_api


def versions(api: Api) -> list[dict]:
    return execute(f'select version, source from "{api.tenant.schema_name}".menu_versions')


def test_a_phone_photo_goes_live_upright_in_three_sizes(menu, client, app_functions) -> None:
    api, item = menu
    grant = grant_for(api, item["id"])
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["image_status"] == "pending"
    assert put_with_grant(grant, phone_jpeg(4000, 3000)).status_code == 201
    name = uploads_name(grant)

    delivered = [r for r in poll_once(app_functions) if r.blob == f"uploads/{name}"]
    assert [r.succeeded for r in delivered] == [True]

    admin = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert admin["image_status"] == "ready"
    assert admin["image_reason"] is None
    renditions = admin["image"]["renditions"]
    assert [(r["width"], r["height"]) for r in renditions] == [
        (320, 427), (640, 853), (1280, 1707),
    ]  # fmt: skip
    assert all(
        r["url"].startswith("http://127.0.0.1:10000/devstoreaccount1/assets/") for r in renditions
    )
    for rendition in renditions:
        data, props = download_asset(rendition["url"])
        assert props.content_settings.content_type == "image/webp"
        assert props.content_settings.cache_control == IMMUTABLE
        assert Image.open(io.BytesIO(data)).size == (rendition["width"], rendition["height"])
    assert not upload_exists(name)

    # Republished at once: customers see it without a publish, and only the image changed.
    assert versions(api)[-1] == {"version": 2, "source": "image"}
    store = ok(customer_api(client, api.tenant).get("/v1/store/menu"))
    assert store["categories"][0]["items"][0]["image"] == admin["image"]


def test_png_and_webp_uploads_are_processed_too(menu, app_functions) -> None:
    api, item = menu
    for kind in ("PNG", "WEBP"):
        deliver(app_functions, upload(api, item["id"], encoded(photo(1500, 1000), kind)))
        admin = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
        assert admin["image_status"] == "ready", kind
        assert [r["width"] for r in admin["image"]["renditions"]] == [320, 640, 1280]


def test_duplicate_delivery_and_same_bytes_again_change_nothing(menu, app_functions) -> None:
    api, item = menu
    data = encoded(photo(1600, 1200), "JPEG")
    name = upload(api, item["id"], data)
    deliver(app_functions, name)
    first = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    blobs = assets_under(f"{api.tenant.slug}/item-{item['id']}/")
    assert len(blobs) == 3
    published = versions(api)

    deliver(app_functions, name, data)  # The host delivers again (the original is gone by now).
    deliver(app_functions, upload(api, item["id"], data))  # The manager uploads it again.

    again = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert again["image"] == first["image"]
    assert again["image_status"] == "ready"
    assert assets_under(f"{api.tenant.slug}/item-{item['id']}/") == blobs
    assert versions(api) == published
    assert again["version"] == item["version"]  # Image writes leave editors' If-Match valid.


def test_a_new_photo_replaces_the_old_renditions(
    menu, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the old photo's renditions were older than the grace a clean-up leaves them.
    monkeypatch.setattr(blobs, "RENDITION_GRACE", timedelta(0))
    api, item = menu
    deliver(app_functions, upload(api, item["id"], encoded(photo(1600, 1200), "JPEG")))
    old = assets_under(f"{api.tenant.slug}/item-{item['id']}/")
    deliver(app_functions, upload(api, item["id"], encoded(photo(900, 900), "PNG")))
    new = assets_under(f"{api.tenant.slug}/item-{item['id']}/")
    assert len(new) == 3
    assert not set(old) & set(new)
    assert [v["source"] for v in versions(api)] == ["publish", "image", "image"]


def test_an_unpublished_item_gets_its_photo_at_the_next_publish(
    client, tenants, auth_header, app_functions
) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    deliver(app_functions, upload(api, item["id"], encoded(photo(800, 600), "JPEG")))
    assert versions(api) == []
    ok(api.post("/v1/admin/menu/publish"), 201)
    store = ok(customer_api(client, api.tenant).get("/v1/store/menu"))
    assert [r["width"] for r in store["categories"][0]["items"][0]["image"]["renditions"]] == [
        320, 640, 800,
    ]  # fmt: skip


def test_a_reimported_menu_keeps_its_photos(menu, client, app_functions) -> None:
    """A manager re-importing prices from a spreadsheet keeps each dish's photo, matched by
    category and item name; a renamed dish starts without one."""
    api, item = menu
    deliver(app_functions, upload(api, item["id"], encoded(photo(800, 600), "JPEG")))
    photo_before = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["image"]
    document = {
        "categories": [
            {"name": " pizza ", "items": [
                {"name": "MARGHERITA", "price": 1050}, {"name": "Marinara", "price": 800},
            ]},
        ]
    }  # fmt: skip
    counts = ok(api.post("/v1/admin/menu/import", json=document))
    assert (counts["replaced_items"], counts["photos_kept"]) == (1, 1)
    ok(api.post("/v1/admin/menu/publish"), 201)
    store = ok(customer_api(client, api.tenant).get("/v1/store/menu"))
    dishes = {i["name"]: i for c in store["categories"] for i in c["items"]}
    assert dishes["MARGHERITA"]["price"] == 1050
    assert dishes["MARGHERITA"]["image"] == photo_before
    assert dishes["Marinara"].get("image") is None
    admin = ok(api.get("/v1/admin/menu"))["categories"][0]["items"][0]
    assert (admin["image_status"], admin["image"]) == ("ready", photo_before)


def test_an_import_racing_a_finishing_upload_does_not_carry_a_deleted_photo(
    menu, client, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload finishing while an import reads the photos it carries: the import waits for it
    and carries the new photo, never the old one the upload's clean-up deletes."""
    monkeypatch.setattr(blobs, "RENDITION_GRACE", timedelta(0))  # the old photo is months old
    api, item = menu
    first = grant_for(api, item["id"])
    assert put_with_grant(first, encoded(photo(800, 600), "JPEG")).status_code == 201
    deliver(app_functions, uploads_name(first))
    newer = grant_for(api, item["id"])
    assert put_with_grant(newer, encoded(photo(600, 800), "JPEG")).status_code == 201
    document = {"categories": [{"name": "Pizza", "items": [{"name": "Margherita", "price": 990}]}]}
    answers: dict[str, object] = {}

    def finish_upload() -> None:
        deliver(app_functions, uploads_name(newer))

    def reimport() -> None:
        answers["import"] = api.post("/v1/admin/menu/import", json=document)

    # Hold the dish's row so both meet at it: the upload records its photo first, the import
    # (which has read the photos already) retires the row right after.
    run_in_turn_behind(
        api.tenant.schema_name,
        "select id from menu_items where id = %s for update",
        "menu_items",
        finish_upload,
        reimport,
        params=[item["id"]],
    )
    assert ok(answers["import"])["photos_kept"] == 1
    ok(api.post("/v1/admin/menu/publish"), 201)

    store = ok(customer_api(client, api.tenant).get("/v1/store/menu"))
    (dish,) = store["categories"][0]["items"]
    stored = set(assets_under(f"{api.tenant.slug}/"))
    missing = [
        r["url"]
        for r in dish["image"]["renditions"]
        if r["url"].split("/assets/", 1)[1] not in stored
    ]
    assert missing == []


def test_only_the_newest_upload_url_counts(menu, app_functions) -> None:
    api, item = menu
    older = upload(api, item["id"], encoded(photo(800, 600), "JPEG"))
    newer = upload(api, item["id"], encoded(photo(600, 800), "JPEG"))
    deliver(app_functions, newer)
    deliver(app_functions, older)
    admin = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert (admin["image"]["width"], admin["image"]["height"]) == (600, 800)
    assert len(assets_under(f"{api.tenant.slug}/item-{item['id']}/")) == 2  # 320 and 600.
    assert not upload_exists(older)
    assert "newer upload" in (quarantine_reason(older) or "")


def test_a_logo_goes_into_the_theme(client, tenants, auth_header, app_functions) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    path = "/v1/admin/branding/logo/image-upload"
    grant = ok(api.post(path, json={"content_type": "image/png"}))
    logo = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    assert put_with_grant(grant, encoded(logo, "PNG")).status_code == 201
    deliver(app_functions, uploads_name(grant))

    states = ok(api.get("/v1/admin/branding/images"))
    assert states["hero"] == {"status": "none", "reason": None, "image": None}
    assert states["logo"]["status"] == "ready"
    largest = states["logo"]["image"]["renditions"][-1]["url"]
    assert largest.endswith("-600.webp")
    assert ok(api.get("/v1/admin/theme"))["assets"]["logo"] == largest
    config = ok(customer_api(client, tenant).get("/v1/store/config"))
    assert config["theme"]["assets"]["logo"] == largest
    banner = api.post("/v1/admin/branding/banner/image-upload", json={"content_type": "image/png"})
    assert banner.status_code == 404

    # Applying a preset as the README says (copy its tokens, save) changes the look, not the logo.
    presets = ok(api.get("/v1/admin/theme/presets"))["presets"]
    bistro = next(p["tokens"] for p in presets if p["name"] == "bistro")
    etag = api.get("/v1/admin/theme").headers["etag"]
    saved = ok(api.put("/v1/admin/theme", json=bistro, headers={"If-Match": etag}))
    assert (saved["colors"]["primary"], saved["assets"]["logo"]) == ("#14532d", largest)
    config = ok(customer_api(client, tenant).get("/v1/store/config"))
    assert config["theme"]["assets"]["logo"] == largest
    # Sent, assets replace what was there: the manager takes the logo off.
    ok(api.put("/v1/admin/theme", json={**bistro, "assets": {"logo": None}}))
    config = ok(customer_api(client, tenant).get("/v1/store/config"))
    assert config["theme"]["assets"]["logo"] is None
    # The branding view agrees with the storefront; saving the URL again puts the logo back.
    assert ok(api.get("/v1/admin/branding/images"))["logo"]["status"] == "removed"
    ok(api.put("/v1/admin/theme", json={**bistro, "assets": {"logo": largest}}))
    assert ok(api.get("/v1/admin/branding/images"))["logo"]["status"] == "ready"


def test_a_clean_up_leaves_renditions_not_yet_recorded_alone(menu, app_functions) -> None:
    """An upload writes its renditions before it records them (so no menu writer waits on
    storage). Another upload's clean-up in between must not delete them: it leaves young
    unreferenced renditions alone."""
    api, item = menu
    deliver(app_functions, upload(api, item["id"], encoded(photo(800, 600), "JPEG")))
    target = parse_upload_name(upload(api, item["id"], encoded(photo(640, 480), "PNG")))
    unrecorded = blobs.store_renditions(target, render_upload(encoded(photo(700, 500), "PNG")))
    deliver(app_functions, upload(api, item["id"], encoded(photo(900, 600), "JPEG")))
    names = assets_under(f"{api.tenant.slug}/item-{item['id']}/")
    for rendition in unrecorded["renditions"]:
        assert rendition["url"].rsplit("/", 1)[1] in {n.rsplit("/", 1)[1] for n in names}
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["image_status"] == "ready"


def test_brand_upload_after_assets_base_url_moved_is_not_poisoned(
    client, tenants, auth_header, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The saved logo URL is under the old ASSETS_BASE_URL: a hero upload must still go live,
    # not fail (and be retried into poison) over a logo nobody touched.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    logo = ok(api.post("/v1/admin/branding/logo/image-upload", json={"content_type": "image/png"}))
    logo_png = encoded(Image.new("RGBA", (600, 200), "red"), "PNG")
    assert put_with_grant(logo, logo_png).status_code == 201
    deliver(app_functions, uploads_name(logo))
    assert ok(api.get("/v1/admin/branding/images"))["logo"]["status"] == "ready"

    # The operator serves assets from a new host (same blobs behind it).
    monkeypatch.setenv("ASSETS_BASE_URL", "https://cdn.stelly.test/assets")
    get_settings.cache_clear()
    try:
        hero = ok(
            api.post("/v1/admin/branding/hero/image-upload", json={"content_type": "image/jpeg"})
        )
        assert put_with_grant(hero, encoded(photo(1600, 900), "JPEG")).status_code == 201
        name = f"uploads/{uploads_name(hero)}"
        results = [r for r in poll_once(app_functions) if r.blob == name]
        states = ok(api.get("/v1/admin/branding/images"))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    assert [r.succeeded for r in results] == [True], [r.error for r in results]
    assert states["hero"]["status"] == "ready", states["hero"]


@pytest.fixture
def pool_of_one(monkeypatch: pytest.MonkeyPatch, migrated_public: None):
    """DATABASE_POOL_MAX=1, what infra/main.bicep deploys for B1ms with 4-6 instances."""
    with pool_of(1, monkeypatch):
        yield


def test_a_logo_goes_live_with_a_pool_of_one_connection(
    client, tenants, auth_header, app_functions, pool_of_one
) -> None:
    # Applying a brand image reads and updates the profile on the connection it holds: asking
    # the pool for a second one waited for itself until the pool's timeout, on every retry.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    grant = ok(api.post("/v1/admin/branding/logo/image-upload", json={"content_type": "image/png"}))
    assert (
        put_with_grant(grant, encoded(Image.new("RGBA", (600, 200), "red"), "PNG")).status_code
        == 201
    )

    deliver(app_functions, uploads_name(grant))

    assert ok(api.get("/v1/admin/branding/images"))["logo"]["status"] == "ready"
    config = ok(customer_api(client, tenant).get("/v1/store/config"))
    assert config["theme"]["assets"]["logo"].endswith(".webp"), config["theme"]
