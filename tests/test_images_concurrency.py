"""Uploads overtaken by newer upload URLs, by a deletion of their restaurant, or by the
manager while they render or are recorded: the newest upload always wins, nothing is left behind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import pytest

from shared.db import tenant_transaction, transaction
from shared.images import pipeline
from shared.images.live_menu import reissue_with_item_image
from shared.images.renditions import RenderedImage
from shared.provisioning.deprovision import DEPROVISION_STEPS, run_deprovision_step
from shared.tenant_profile import save_tenant_profile
from tests.conftest import execute, run_in_turn_behind, wait_for_lock_waiters
from tests.image_fixtures import (  # noqa: F401
    assets_under,
    brand_grant,
    brand_states,
    brand_upload,
    deliver,
    encoded,
    grant_for,
    item_view,
    logo_png,
    menu_fixture,
    photo,
    quarantine_reason,
    upload,
    upload_exists,
)
from tests.storefront_helpers import (
    Api,
    build_small_menu,
    customer_api,
    ok,
    owner_api,
    publish_first_item_at,
)

NOT_A_PHOTO = b"Dear manager,\nthis is not a photo.\n" * 20


def item_row(api: Api, item_id: str) -> dict[str, Any]:
    (row,) = execute(
        f'select image, image_status, image_reason from "{api.tenant.schema_name}".menu_items'
        " where id = %s",
        [item_id],
    )
    return row


def render_then(monkeypatch: pytest.MonkeyPatch, meanwhile) -> None:
    """Make the trigger run meanwhile() after decoding (success or not), as if it happened
    while the photo rendered."""
    render = pipeline.render_upload

    def rendering(data: bytes) -> RenderedImage:
        try:
            return render(data)
        finally:
            meanwhile()

    monkeypatch.setattr(pipeline, "render_upload", rendering)


def test_a_suspended_restaurants_upload_still_goes_live(menu, app_functions) -> None:
    """A photo uploaded just before the platform suspends the restaurant still goes live: a
    suspended restaurant keeps its data and takes uploads."""
    api, item = menu
    name = upload(api, item["id"], encoded(photo(800, 600), "JPEG"))
    execute("update tenants set status = 'suspended' where slug = %s", [api.tenant.slug])

    deliver(app_functions, name)

    row = item_row(api, item["id"])
    assert (row["image_status"], row["image_reason"]) == ("ready", None)
    assert quarantine_reason(name) is None
    assert len(assets_under(f"{api.tenant.slug}/item-{item['id']}/")) == 3


def test_a_restaurant_marked_deleting_while_its_photo_renders_keeps_no_files(
    client, tenants, auth_header, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deletion that marked the restaurant `deleting` and swept its blobs while a photo
    rendered leaves no public renditions behind, though recording it succeeded."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    name = upload(api, item["id"], encoded(photo(800, 600), "PNG"))
    before_schema = DEPROVISION_STEPS[: DEPROVISION_STEPS.index("drop_schema")]

    def delete_up_to_the_schema() -> None:
        for step in before_schema:
            assert run_deprovision_step(step, tenant.slug, f"deprovision-{tenant.slug}")["ok"]

    render_then(monkeypatch, delete_up_to_the_schema)
    deliver(app_functions, name)

    assert assets_under(f"{tenant.slug}/") == []
    assert "takes uploads" in (quarantine_reason(name) or "")
    for step in DEPROVISION_STEPS[len(before_schema) :]:
        assert run_deprovision_step(step, tenant.slug, f"deprovision-{tenant.slug}")["ok"]


def test_an_upload_superseded_while_it_renders_is_quarantined_as_superseded(
    menu, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload whose URL was superseded while it rendered is quarantined saying why the photo
    did not change."""
    api, item = menu
    name = upload(api, item["id"], encoded(photo(800, 600), "JPEG"))
    render_then(monkeypatch, lambda: grant_for(api, item["id"]))

    outcome = pipeline.process_upload(name=name, data=encoded(photo(800, 600), "JPEG"))

    assert outcome.status == "superseded"
    assert "newer upload" in (quarantine_reason(name) or "")
    assert not upload_exists(name)
    view = item_view(api, item["id"])
    assert (view["image_status"], view["image"]) == ("pending", None)


def test_a_bad_file_superseded_while_it_renders_leaves_the_newer_upload_pending(
    menu, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad file superseded while it was decoded does not mark the item rejected: the newer
    upload is still on its way."""
    api, item = menu
    name = upload(api, item["id"], NOT_A_PHOTO)
    render_then(monkeypatch, lambda: grant_for(api, item["id"]))

    deliver(app_functions, name)

    view = item_view(api, item["id"])
    assert (view["image_status"], view["image_reason"]) == ("pending", None)
    assert "not a JPEG" in (quarantine_reason(name) or "")


def test_a_bad_logo_superseded_while_it_renders_leaves_the_newer_upload_pending(
    client, tenants, auth_header, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a logo."""
    api = owner_api(client, tenants.create(), auth_header)
    name = brand_upload(api, "logo", NOT_A_PHOTO)
    render_then(monkeypatch, lambda: brand_grant(api, "logo"))

    deliver(app_functions, name)

    logo = brand_states(api)["logo"]
    assert (logo["status"], logo["reason"]) == ("pending", None)


def test_an_older_logo_url_delivered_first_never_goes_live(
    client, tenants, auth_header, app_functions
) -> None:
    """An older logo upload arriving after a newer URL was handed out never goes live, and the
    newer one does."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    older = brand_upload(api, "logo", logo_png(600, 200))
    newer = brand_upload(api, "logo", logo_png(450, 150))

    deliver(app_functions, older)
    assert brand_states(api)["logo"]["status"] == "pending"
    assert "newer upload" in (quarantine_reason(older) or "")
    deliver(app_functions, newer)

    logo = brand_states(api)["logo"]
    assert logo["status"] == "ready"
    assert (logo["image"]["width"], logo["image"]["height"]) == (450, 150)
    config = ok(customer_api(client, tenant).get("/v1/store/config"))
    assert config["theme"]["assets"]["logo"] == logo["image"]["renditions"][-1]["url"]


def test_a_photo_url_handed_out_while_an_upload_is_recorded_wins(menu, app_functions) -> None:
    """A newer URL asked for while an upload is being recorded wins: the recording re-reads the
    row under its lock and finds itself superseded."""
    api, item = menu
    older = upload(api, item["id"], encoded(photo(800, 600), "JPEG"))
    answers: dict[str, Any] = {}

    def ask_again() -> None:
        answers["grant"] = api.post(
            f"/v1/admin/menu/items/{item['id']}/image-upload", json={"content_type": "image/jpeg"}
        )

    run_in_turn_behind(
        api.tenant.schema_name,
        "select id from menu_items where id = %s for update",
        "menu_items",
        ask_again,
        lambda: deliver(app_functions, older),
        params=[item["id"]],
    )
    ok(answers["grant"])

    view = item_view(api, item["id"])
    assert (view["image_status"], view["image"]) == ("pending", None)
    assert "newer upload" in (quarantine_reason(older) or "")


def test_a_logo_url_handed_out_while_a_logo_is_recorded_wins(
    client, tenants, auth_header, app_functions
) -> None:
    """The same for a logo: it stays out of the theme."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    older = brand_upload(api, "logo", logo_png(600, 200))
    answers: dict[str, Any] = {}

    def ask_again() -> None:
        answers["grant"] = api.post(
            "/v1/admin/branding/logo/image-upload", json={"content_type": "image/png"}
        )

    run_in_turn_behind(
        tenant.schema_name,
        "select kind from brand_images where kind = 'logo' for update",
        "brand_images",
        ask_again,
        lambda: deliver(app_functions, older),
    )
    ok(answers["grant"])

    assert brand_states(api)["logo"]["status"] == "pending"
    config = ok(customer_api(client, tenant).get("/v1/store/config"))
    assert (config["theme"].get("assets") or {}).get("logo") is None


def test_a_deleted_item_gets_no_upload_url(menu) -> None:
    """A deleted dish gets a 404, not an upload URL (nor a pending photo)."""
    api, item = menu
    assert api.delete(f"/v1/admin/menu/items/{item['id']}").status_code == 204
    answer = api.post(
        f"/v1/admin/menu/items/{item['id']}/image-upload", json={"content_type": "image/jpeg"}
    )
    assert answer.status_code == 404
    assert item_row(api, item["id"])["image_status"] == "none"


def test_a_photo_going_live_behind_a_publish_keeps_what_that_publish_changed(
    client, tenants, auth_header
) -> None:
    """A photo re-issues the live menu under the versions lock: one that waited for a publish
    re-issues that publish, so the price the manager just published stays live."""
    api = owner_api(client, tenants.create(), auth_header)
    item_id = build_small_menu(api)["item"]["id"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    image = {"sizes": {"320": "https://cdn.example/photo-320.webp"}, "version": "b1"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        with tenant_transaction(api.tenant.schema_name) as conn:  # a publish, halfway through
            conn.execute("lock table menu_versions in share row exclusive mode")
            photo_live = pool.submit(reissue_photo, api.tenant.schema_name, item_id, image)
            wait_for_lock_waiters("menu_versions")
            publish_first_item_at(conn, 1200)
        assert photo_live.result()["version"] == 3
    item = ok(customer_api(client, api.tenant).get("/v1/store/menu"))["categories"][0]["items"][0]
    assert (item["price"], item["image"]) == (1200, image)


def reissue_photo(schema: str, item_id: str, image: dict[str, Any]) -> dict[str, Any] | None:
    with tenant_transaction(schema) as conn:
        return reissue_with_item_image(conn, UUID(item_id), image)


def test_a_logo_finishing_while_the_settings_are_open_leaves_their_etag_valid(
    client, tenants, auth_header, app_functions
) -> None:
    """The owner uploads a logo and, while it renders, saves new hours with the ETag the
    settings page read: a 200, since nobody changed the settings. A theme page read before the
    logo went live is stale, though: its save would put the old logo back, so it is a 412."""
    api = owner_api(client, tenants.create(), auth_header)
    name = brand_upload(api, "logo", logo_png(600, 200))
    settings, theme = api.get("/v1/admin/settings"), api.get("/v1/admin/theme")

    deliver(app_functions, name)  # the logo goes live while both pages are open

    assert brand_states(api)["logo"]["status"] == "ready"
    hours = {"mon": [["12:00", "22:00"]]}
    saved = api.put(
        "/v1/admin/settings",
        json={**settings.json(), "hours": hours},
        headers={"If-Match": settings.headers["etag"]},
    )
    assert saved.status_code == 200, saved.text
    assert ok(api.get("/v1/admin/settings"))["hours"] == hours
    stale = api.put(
        "/v1/admin/theme", json=theme.json(), headers={"If-Match": theme.headers["etag"]}
    )
    assert stale.status_code == 412, stale.text
    assert ok(api.get("/v1/admin/theme"))["assets"]["logo"].endswith(".webp")


def test_the_same_logo_delivered_again_leaves_the_theme_etag_alone(
    client, tenants, auth_header, app_functions
) -> None:
    """The host delivering a logo twice changes nothing: not the theme, not its ETag."""
    api = owner_api(client, tenants.create(), auth_header)
    data = logo_png(600, 200)
    name = brand_upload(api, "logo", data)
    deliver(app_functions, name)
    before = api.get("/v1/admin/theme")
    deliver(app_functions, name, data)  # the host delivers again (the original is gone)
    after = api.get("/v1/admin/theme")
    assert (ok(after), after.headers["etag"]) == (ok(before), before.headers["etag"])


def test_a_theme_saved_while_the_logo_goes_live_is_kept(
    client, tenants, auth_header, app_functions
) -> None:
    """A theme edit committing between the logo's read of the theme and its save makes the
    logo's save stale (it raises, and the host's retry applies the logo to the new theme), so
    the manager's colours stay."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    data = logo_png(600, 200)
    name = brand_upload(api, "logo", data)
    current = ok(api.get("/v1/admin/theme"))
    edited = {**current, "colors": {**current["colors"], "primary": "#1d4ed8"}}
    edited.pop("assets", None)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction() as conn:  # a theme save, halfway through
            conn.execute("select id from public.tenants where id = %s for update", [tenant.id])
            logo = pool.submit(deliver, app_functions, name, data)
            wait_for_lock_waiters("public.tenants")
            save_tenant_profile(conn, tenant_id=tenant.id, theme=edited, keep_theme_assets=True)
        stale = logo.exception(timeout=30)
    assert getattr(stale, "status", None) == 409, repr(stale)  # the host retries
    deliver(app_functions, name, data)
    theme = ok(api.get("/v1/admin/theme"))
    assert theme["colors"]["primary"] == "#1d4ed8"
    assert theme["assets"]["logo"].endswith(".webp")
