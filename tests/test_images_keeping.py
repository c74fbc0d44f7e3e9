"""Which image files stay: the logo beside a new hero, the newest photo after a clean-up or a
sweep, a file overwritten after its delivery, a refused file kept for inspection, the original
deleted whatever the ETag's spelling."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import httpx
import pytest
from PIL import Image

from shared.images import blobs, pipeline
from shared.images.limits import MAX_UPLOAD_BYTES
from shared.images.photo_sweep import sweep_item_photos
from shared.images.targets import ASSETS_CONTAINER, QUARANTINE_CONTAINER, UPLOADS_CONTAINER
from shared.storage import blob_service
from tests.image_fixtures import (  # noqa: F401
    assets_under,
    brand_states,
    brand_upload,
    deliver,
    download_asset,
    encoded,
    grant_for,
    item_view,
    logo_png,
    menu_fixture,
    photo,
    put_with_grant,
    quarantine_reason,
    upload,
    upload_exists,
    uploads_name,
)
from tests.storefront_helpers import build_small_menu, customer_api, ok, owner_api


def test_a_hero_upload_keeps_the_logo(client, tenants, auth_header, app_functions) -> None:
    """A hero upload changes only the hero in the theme."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    deliver(app_functions, brand_upload(api, "logo", logo_png(600, 200)))
    deliver(app_functions, brand_upload(api, "hero", encoded(photo(1600, 900), "PNG")))

    states = brand_states(api)
    assert (states["logo"]["status"], states["hero"]["status"]) == ("ready", "ready")
    assets = ok(customer_api(client, tenant).get("/v1/store/config"))["theme"]["assets"]
    assert assets == {
        "logo": states["logo"]["image"]["renditions"][-1]["url"],
        "hero": states["hero"]["image"]["renditions"][-1]["url"],
    }


def test_a_theme_showing_a_smaller_rendition_of_the_logo_reads_ready(
    client, tenants, auth_header, app_functions
) -> None:
    """A theme showing the logo at one of its smaller renditions still shows that logo."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    deliver(app_functions, brand_upload(api, "logo", logo_png(600, 200)))
    smallest = brand_states(api)["logo"]["image"]["renditions"][0]["url"]
    assert smallest.endswith("-320.webp")
    theme = ok(api.get("/v1/admin/theme"))

    ok(api.put("/v1/admin/theme", json={**theme, "assets": {"logo": smallest}}))

    assert brand_states(api)["logo"]["status"] == "ready"


def test_a_replaced_photo_the_first_publish_carried_goes(
    client, tenants, auth_header, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clean-up after an upload compares with the newest menu version, not the first."""
    monkeypatch.setattr(blobs, "RENDITION_GRACE", timedelta(0))  # the first photo is months old
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    folder = f"{api.tenant.slug}/item-{item['id']}/"
    deliver(app_functions, upload(api, item["id"], encoded(photo(800, 600), "JPEG")))
    first = assets_under(folder)
    ok(api.post("/v1/admin/menu/publish"), 201)  # version 1 shows the first photo

    deliver(app_functions, upload(api, item["id"], encoded(photo(640, 480), "PNG")))

    remaining = assets_under(folder)
    assert len(remaining) == 2  # 320 and 640 of the new photo
    assert not set(first) & set(remaining)


def test_the_hourly_photo_sweep_leaves_the_logo_and_hero_alone(
    client, tenants, auth_header, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep reads only the menus, so it looks only in item folders."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    deliver(app_functions, brand_upload(api, "logo", logo_png(600, 200)))
    logo_files = assets_under(f"{tenant.slug}/logo/")
    assert len(logo_files) == 2
    monkeypatch.setattr(blobs, "RENDITION_GRACE", timedelta(0))

    assert sweep_item_photos(tenant.schema_name, tenant.slug) == []

    assert assets_under(f"{tenant.slug}/logo/") == logo_files
    shown = ok(customer_api(client, tenant).get("/v1/store/config"))["theme"]["assets"]["logo"]
    assert download_asset(shown)[0]


def test_a_rendition_url_is_readable_without_credentials(menu, app_functions) -> None:
    """A storefront's browser reads rendition URLs without a key: `assets` is created with
    anonymous blob reads."""
    api, item = menu
    deliver(app_functions, upload(api, item["id"], encoded(photo(800, 600), "JPEG")))
    url = item_view(api, item["id"])["image"]["renditions"][-1]["url"]
    # The same blob at the test's Azurite (ASSETS_BASE_URL names the default port), no key.
    name = url.split(f"/{ASSETS_CONTAINER}/", 1)[1]
    anonymous = blob_service().get_blob_client(ASSETS_CONTAINER, name).url

    answer = httpx.get(anonymous, timeout=30)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(answer.content)).size == (800, 600)


def test_an_upload_overwritten_after_delivery_is_not_deleted(menu, app_functions) -> None:
    """Finishing one delivery does not delete the file that overwrote it meanwhile, before that
    one's own trigger ran (If-Match on the delete)."""
    api, item = menu
    grant = grant_for(api, item["id"])
    first = encoded(photo(800, 600), "JPEG")
    assert put_with_grant(grant, first).status_code == 201
    name = uploads_name(grant)
    client = blob_service().get_blob_client(UPLOADS_CONTAINER, name)
    delivered_etag = client.get_blob_properties().etag.strip('"')
    assert put_with_grant(grant, encoded(photo(300, 900), "PNG")).status_code == 201

    outcome = pipeline.process_upload(name=f"uploads/{name}", data=first, etag=delivered_etag)

    assert outcome.status == "ready"
    assert upload_exists(name)  # the newer file waits for its own delivery
    deliver(app_functions, name)
    assert "used already" in (quarantine_reason(name) or "")
    assert not upload_exists(name)


def test_a_refused_file_of_exactly_the_size_limit_is_kept_in_quarantine(app_functions) -> None:
    """A refused file of exactly 10 MiB, an allowed size, is kept for inspection."""
    name = f"nosuchtenant/logo/{uuid.uuid4()}"
    data = b"\0" * MAX_UPLOAD_BYTES
    blobs.ensure_container(UPLOADS_CONTAINER)
    blob_service().get_blob_client(UPLOADS_CONTAINER, name).upload_blob(data, overwrite=True)

    deliver(app_functions, name)

    kept = blob_service().get_blob_client(QUARANTINE_CONTAINER, name)
    properties = kept.get_blob_properties()
    assert properties.size == MAX_UPLOAD_BYTES
    assert "original_bytes" not in properties.metadata
    assert not upload_exists(name)


def _stray_upload(data: bytes) -> tuple[str, str]:
    """A new blob in `uploads` for no tenant: its name and its ETag as storage answers it."""
    name = f"nosuchtenant/logo/{uuid.uuid4()}"
    blobs.ensure_container(UPLOADS_CONTAINER)
    client = blob_service().get_blob_client(UPLOADS_CONTAINER, name)
    client.upload_blob(data, overwrite=True)
    return name, client.get_blob_properties().etag


@pytest.mark.parametrize("spelling", ["quoted", "bare", "none"])
def test_the_delivered_original_is_deleted_however_its_etag_is_spelt(
    migrated_public, spelling: str
) -> None:
    """Hosts hand the ETag quoted (as storage answers it) or bare: either way, or with none, the
    original of a finished upload goes."""
    name, etag = _stray_upload(b"original")
    assert etag.startswith('"')
    blobs.delete_upload(name, {"quoted": etag, "bare": etag.strip('"'), "none": None}[spelling])
    assert not upload_exists(name)


def test_quarantine_keeps_an_original_overwritten_since_its_delivery(migrated_public) -> None:
    """Refusing a file deletes its original only while it is still the delivered bytes: a newer
    upload over it waits for its own delivery."""
    name, stale = _stray_upload(b"first")
    blob_service().get_blob_client(UPLOADS_CONTAINER, name).upload_blob(b"second", overwrite=True)
    blobs.quarantine(name, b"first", "not an image", stale.strip('"'))
    assert quarantine_reason(name) == "not an image"
    assert upload_exists(name)

    refused, current = _stray_upload(b"refused")
    blobs.quarantine(refused, b"refused", "not an image", current.strip('"'))
    assert quarantine_reason(refused) == "not an image"
    assert not upload_exists(refused)
