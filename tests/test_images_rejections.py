"""Bad uploads through the real trigger: rejected with a reason, quarantined, nothing harmed."""

from __future__ import annotations

import uuid

import pytest

from shared.images import pipeline
from shared.images.blobs import ensure_container
from shared.images.limits import (
    DAMAGED,
    MAX_ASPECT,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    ImageRejected,
    check_dimensions,
    check_size,
)
from shared.images.renditions import RenderedImage
from shared.images.targets import QUARANTINE_CONTAINER, UPLOADS_CONTAINER
from shared.provisioning.deprovision import DEPROVISION_STEPS, run_deprovision_step
from shared.storage import blob_service
from tests.conftest import execute
from tests.image_fixtures import (
    assets_under,
    bad_files,
    deliver,
    encoded,
    grant_for,
    photo,
    put_with_grant,
    quarantine_reason,
    upload_exists,
    uploads_name,
)
from tests.storefront_helpers import build_small_menu, ok, owner_api


def write_upload(name: str, data: bytes) -> None:
    """Write straight to `uploads`, as someone holding a storage key (not an upload URL) could."""
    ensure_container(UPLOADS_CONTAINER)
    blob_service().get_blob_client(UPLOADS_CONTAINER, name).upload_blob(data, overwrite=True)


def item_row(schema: str, item_id: str) -> dict:
    (row,) = execute(
        f'select image, image_status, image_reason, version from "{schema}".menu_items'
        " where id = %s",
        [item_id],
    )
    return row


@pytest.mark.parametrize("name", list(bad_files()))
def test_a_bad_file_is_rejected_and_the_old_photo_stays(
    name: str, client, tenants, auth_header, app_functions
) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    photo_path = f"/v1/admin/menu/items/{item['id']}/image-upload"
    good = ok(api.post(photo_path, json={"content_type": "image/jpeg"}))
    put_with_grant(good, encoded(photo(800, 600), "JPEG"))
    deliver(app_functions, uploads_name(good))
    before = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    renditions = assets_under(f"{api.tenant.slug}/item-{item['id']}/")

    data, words = bad_files()[name]
    grant = ok(api.post(photo_path, json={"content_type": "image/jpeg"}))
    assert put_with_grant(grant, data).status_code == 201
    blob = uploads_name(grant)
    deliver(app_functions, blob)  # Returns normally: bad files are never raised to the host.

    after = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert after["image_status"] == "rejected"
    assert words in after["image_reason"]
    assert after["image"] == before["image"]
    assert assets_under(f"{api.tenant.slug}/item-{item['id']}/") == renditions
    assert not upload_exists(blob)
    assert words in (quarantine_reason(blob) or "")
    kept = blob_service().get_blob_client(QUARANTINE_CONTAINER, blob)
    if len(data) > MAX_UPLOAD_BYTES:  # not copied: an upload URL cannot cap the size
        properties = kept.get_blob_properties()
        assert (properties.size, properties.metadata["original_bytes"]) == (0, str(len(data)))
    else:
        assert kept.download_blob().readall() == data


def test_a_path_naming_another_tenants_item_writes_nothing(
    client, tenants, auth_header, app_functions
) -> None:
    victim, attacker = tenants.create(), tenants.create()
    item = build_small_menu(owner_api(client, victim, auth_header))["item"]
    before = item_row(victim.schema_name, item["id"])
    name = f"{attacker.slug}/item-{item['id']}/{uuid.uuid4()}"
    write_upload(name, encoded(photo(800, 600), "JPEG"))

    deliver(app_functions, name)

    assert item_row(victim.schema_name, item["id"]) == before
    assert assets_under(f"{victim.slug}/") == assets_under(f"{attacker.slug}/") == []
    assert f"no item {item['id']} in restaurant {attacker.slug}" in quarantine_reason(name)
    assert not upload_exists(name)


def test_a_forged_upload_id_for_a_real_item_is_not_used(
    client, tenants, auth_header, app_functions
) -> None:
    tenant = tenants.create()
    item = build_small_menu(owner_api(client, tenant, auth_header))["item"]
    name = f"{tenant.slug}/item-{item['id']}/{uuid.uuid4()}"
    write_upload(name, encoded(photo(800, 600), "JPEG"))
    deliver(app_functions, name)
    assert item_row(tenant.schema_name, item["id"])["image_status"] == "none"
    assert assets_under(f"{tenant.slug}/") == []
    assert quarantine_reason(name) is not None


def test_an_item_deleted_before_processing_is_rejected(
    client, tenants, auth_header, app_functions
) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    grant = ok(
        api.post(
            f"/v1/admin/menu/items/{item['id']}/image-upload", json={"content_type": "image/png"}
        )
    )
    put_with_grant(grant, encoded(photo(800, 600), "PNG"))
    assert api.delete(f"/v1/admin/menu/items/{item['id']}").status_code == 204

    deliver(app_functions, uploads_name(grant))

    row = item_row(api.tenant.schema_name, item["id"])
    assert row["image_status"] == "rejected"
    assert "deleted" in row["image_reason"]
    assert assets_under(f"{api.tenant.slug}/") == []
    assert "deleted" in quarantine_reason(uploads_name(grant))


def test_a_used_upload_url_cannot_replace_the_live_photo(
    client, tenants, auth_header, app_functions
) -> None:
    # The URL stays writable for its lifetime; whoever holds it later (a browser history, a
    # proxy log) must not put another picture live. The same bytes again change nothing.
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    grant = grant_for(api, item["id"])
    original = encoded(photo(800, 600), "JPEG")
    assert put_with_grant(grant, original).status_code == 201
    deliver(app_functions, uploads_name(grant))
    live = item_row(api.tenant.schema_name, item["id"])

    assert put_with_grant(grant, encoded(photo(300, 900), "PNG")).status_code == 201
    deliver(app_functions, uploads_name(grant))
    assert item_row(api.tenant.schema_name, item["id"]) == live
    assert "used already" in quarantine_reason(uploads_name(grant))

    assert put_with_grant(grant, original).status_code == 201  # the host delivering it again
    deliver(app_functions, uploads_name(grant))
    assert item_row(api.tenant.schema_name, item["id"]) == live


def test_a_restaurant_deleted_while_its_photo_renders_leaves_no_files_behind(
    client, tenants, auth_header, app_functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deletion sweeps assets/<slug>/ before the renditions exist; the pipeline removes what
    # it wrote once it finds the restaurant gone, or the photos would stay public for good.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    grant = grant_for(api, item["id"], "image/png")
    put_with_grant(grant, encoded(photo(800, 600), "PNG"))
    render = pipeline.render_upload

    def render_while_the_platform_deletes_the_restaurant(data: bytes) -> RenderedImage:
        rendered = render(data)
        for step in DEPROVISION_STEPS:
            assert run_deprovision_step(step, tenant.slug, f"deprovision-{tenant.slug}")["ok"]
        return rendered

    monkeypatch.setattr(pipeline, "render_upload", render_while_the_platform_deletes_the_restaurant)
    deliver(app_functions, uploads_name(grant))

    assert assets_under(f"{tenant.slug}/") == []
    assert "takes uploads" in quarantine_reason(uploads_name(grant))


@pytest.mark.parametrize(
    "name",
    [
        "nosuchtenant/logo/" + str(uuid.uuid4()),
        "not/an/upload/path.jpg",
        f"UPPER/item-{uuid.uuid4()}/{uuid.uuid4()}",
    ],
)
def test_unknown_tenants_and_stray_blobs_are_quarantined(name: str, app_functions) -> None:
    write_upload(name, b"\xff\xd8\xff garbage")
    deliver(app_functions, name)
    assert not upload_exists(name)
    assert quarantine_reason(name)


def test_a_rejected_upload_url_is_used_even_for_the_live_photos_bytes(
    client, tenants, auth_header, app_functions
) -> None:
    """A URL counts once: after its upload was rejected it takes no second file, not even the
    live photo's bytes ("used already")."""
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    live_bytes = encoded(photo(800, 600), "JPEG")
    first = grant_for(api, item["id"])
    assert put_with_grant(first, live_bytes).status_code == 201
    deliver(app_functions, uploads_name(first))
    live = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert live["image_status"] == "ready"

    second = grant_for(api, item["id"])
    assert put_with_grant(second, b"Dear manager,\nthis is not a photo.\n" * 20).status_code == 201
    deliver(app_functions, uploads_name(second))
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["image_status"] == "rejected"

    assert put_with_grant(second, live_bytes).status_code == 201  # the used URL, once more
    deliver(app_functions, uploads_name(second))
    after = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert after["image_status"] == "rejected" and after["image"] == live["image"]
    assert "used already" in (quarantine_reason(uploads_name(second)) or "")


def test_a_file_of_exactly_the_size_limit_is_accepted() -> None:
    """The size limit is inclusive: a file of exactly 10 MB is taken."""
    check_size(MAX_UPLOAD_BYTES)
    with pytest.raises(ImageRejected):
        check_size(MAX_UPLOAD_BYTES + 1)


def test_a_file_just_over_the_limit_does_not_read_as_the_limit_itself() -> None:
    """The size in a refusal is rounded up: one byte over 10 MB reads 10.1 MB, never "10.0 MB;
    images are limited to 10.0 MB"."""
    with pytest.raises(ImageRejected) as rejected:
        check_size(MAX_UPLOAD_BYTES + 1)
    assert rejected.value.reason == ("The file is 10.1 MB; images are limited to 10.0 MB")


def test_an_image_of_exactly_the_pixel_limit_is_accepted() -> None:
    """The pixel limit is inclusive: 8000 by 5000 is taken."""
    assert MAX_PIXELS == 8000 * 5000
    check_dimensions(8000, 5000)
    with pytest.raises(ImageRejected):
        check_dimensions(8001, 5000)


def test_an_image_of_exactly_the_widest_shape_is_accepted() -> None:
    """The aspect limit is inclusive, both ways round."""
    check_dimensions(320 * MAX_ASPECT, 320)
    check_dimensions(320, 320 * MAX_ASPECT)
    with pytest.raises(ImageRejected):
        check_dimensions(320 * MAX_ASPECT + 1, 320)


def test_an_image_with_no_height_is_called_damaged() -> None:
    """A header with no width or no height is called damaged, not too wide."""
    for width, height in ((640, 0), (0, 480)):
        with pytest.raises(ImageRejected) as rejected:
            check_dimensions(width, height)
        assert rejected.value.reason == DAMAGED
