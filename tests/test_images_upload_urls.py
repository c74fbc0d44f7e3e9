"""Upload URLs: who may get one, what they allow (one blob, write only, briefly), their signing."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs
from uuid import UUID

import httpx
import pytest
from azure.storage.blob import BlobServiceClient, UserDelegationKey

from devhost.services import free_port
from shared import storage
from shared.config import get_settings, load_settings
from shared.images import blobs
from shared.images.limits import MAX_UPLOAD_BYTES
from shared.images.targets import parse_upload_name
from shared.images.upload_urls import request_item_upload, upload_sas
from tests.conftest import TEST_SETTINGS
from tests.image_fixtures import encoded, photo, put_with_grant
from tests.stalling_proxy import StallingProxy, answered_within, blob_storage_proxy_fixture  # noqa: F401
from tests.storefront_helpers import build_small_menu, ok, owner_api

JPEG = {"content_type": "image/jpeg"}


def item_upload_path(item_id: str) -> str:
    return f"/v1/admin/menu/items/{item_id}/image-upload"


def test_a_manager_gets_a_write_only_url_for_one_blob(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header, role="manager")
    item = build_small_menu(api)["item"]
    grant = ok(api.post(item_upload_path(item["id"]), json={**JPEG, "size": 123_456}))

    url = httpx.URL(grant["upload_url"])
    assert url.path.endswith(f"/uploads/{tenant.slug}/item-{item['id']}/{grant['upload_id']}")
    query = parse_qs(url.query.decode())
    assert query["sp"] == ["cw"] and query["sr"] == ["b"]
    expires = datetime.fromisoformat(grant["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    assert grant["method"] == "PUT"
    assert grant["headers"] == {"x-ms-blob-type": "BlockBlob", "Content-Type": "image/jpeg"}
    assert grant["max_bytes"] == MAX_UPLOAD_BYTES

    data = encoded(photo(400, 300), "JPEG")
    assert put_with_grant(grant, data).status_code == 201
    # The same signature cannot read the blob, nor write any other name.
    assert httpx.get(grant["upload_url"]).status_code == 403
    elsewhere = {
        str(url.copy_with(path=url.path.rsplit("/", 1)[0] + "/other")),
        str(url.copy_with(path=url.path.replace("/uploads/", "/assets/"))),
        str(url.copy_with(path=url.path.replace(f"/{tenant.slug}/", "/another-tenant/"))),
    }
    for target in elsewhere:
        response = httpx.put(target, content=b"overwrite", headers=grant["headers"])
        assert response.status_code == 403, target


def test_an_upload_url_expires(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    item = build_small_menu(owner_api(client, tenant, auth_header))["item"]
    grant = request_item_upload(
        tenant=tenant,
        item_id=UUID(item["id"]),
        content_type="image/png",
        lifetime=timedelta(seconds=3),
    )
    data = encoded(photo(10, 10), "PNG")
    assert put_with_grant(grant, data).status_code == 201
    time.sleep(
        max(0.0, (datetime.fromisoformat(grant["expires_at"]) - datetime.now(UTC)).total_seconds())
        + 1.5
    )
    # Same URL, same bytes, same headers: only the clock has changed.
    assert put_with_grant(grant, data).status_code == 403


def test_who_may_ask_and_for_what(client, tenants, auth_header) -> None:
    tenant, other = tenants.create(), tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    foreign = build_small_menu(owner_api(client, other, auth_header))["item"]

    assert api.post(item_upload_path(foreign["id"]), json=JPEG).status_code == 404
    staff = owner_api(client, tenant, auth_header, role="staff")
    assert staff.post(item_upload_path(item["id"]), json=JPEG).status_code == 403
    gif = api.post(item_upload_path(item["id"]), json={"content_type": "image/gif"})
    assert gif.status_code == 422
    assert [e["path"] for e in gif.json()["errors"]] == ["content_type"]
    huge = api.post(item_upload_path(item["id"]), json={**JPEG, "size": MAX_UPLOAD_BYTES + 1})
    assert [e["path"] for e in huge.json()["errors"]] == ["size"]
    assert api.post(item_upload_path(item["id"])).status_code == 415
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["image_status"] == "none"


class DelegationService:
    """Stands in for BlobServiceClient where only Azure can answer (user-delegation keys)."""

    account_name = "stellyprod"

    def __init__(self) -> None:
        self.key_requests: list[tuple[datetime, datetime]] = []

    def get_user_delegation_key(self, start: datetime, expiry: datetime) -> UserDelegationKey:
        self.key_requests.append((start, expiry))
        key = UserDelegationKey()
        key.signed_oid = "00000000-0000-0000-0000-0000000000aa"
        key.signed_tid = "00000000-0000-0000-0000-0000000000bb"
        key.signed_start = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_expiry = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_service = "b"
        key.signed_version = "2025-11-05"
        key.value = "a2V5LWJ5dGVzLWZvci10ZXN0cw=="
        return key


def test_settings_choose_account_key_or_user_delegation() -> None:
    base = {**TEST_SETTINGS, "DATABASE_URL": "postgresql://unused"}
    now = datetime.now(UTC)
    expiry = now + timedelta(minutes=10)

    local = load_settings({**base, "AzureWebJobsStorage": os.environ["AzureWebJobsStorage"]})
    service = BlobServiceClient.from_connection_string(os.environ["AzureWebJobsStorage"])
    signed = parse_qs(
        upload_sas("t/logo/x", now=now, expiry=expiry, settings=local, service=service)
    )
    assert "skoid" not in signed and signed["sp"] == ["cw"] and "sig" in signed

    azure = load_settings({**base, "AzureWebJobsStorage__accountName": "stellyprod"})
    delegation = DelegationService()
    for _ in range(2):
        token = upload_sas("t/logo/x", now=now, expiry=expiry, settings=azure, service=delegation)
        signed = parse_qs(token)
        assert signed["skoid"] == ["00000000-0000-0000-0000-0000000000aa"]
        assert signed["sp"] == ["cw"] and signed["sr"] == ["b"]
    assert len(delegation.key_requests) == 1  # One key serves many upload URLs.


@pytest.fixture
def blobs_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """A switch making blob storage refuse connections (tables still answer)."""
    current = os.environ["AzureWebJobsStorage"]
    broken = re.sub(r"(BlobEndpoint=http://[^:]+:)\d+", rf"\g<1>{free_port()}", current)
    assert broken != current

    def reset() -> None:
        get_settings.cache_clear()
        storage.reset_clients()

    def down() -> None:
        monkeypatch.setenv("AzureWebJobsStorage", broken)
        reset()

    yield down
    monkeypatch.undo()
    reset()


@pytest.mark.parametrize("warm", [False, True], ids=["new-instance", "warm-instance"])
def test_no_url_while_blob_storage_is_down_leaves_the_item_as_it_was(
    client, tenants, auth_header, blobs_down, warm: bool
) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header, role="manager")
    item = build_small_menu(api)["item"]
    if warm:  # this instance has issued URLs before (and signs them without storage)
        ok(api.post("/v1/admin/branding/logo/image-upload", json=JPEG))
    else:
        blobs.ensure_container.cache_clear()
    blobs_down()
    response = api.post(item_upload_path(item["id"]), json=JPEG)
    assert response.status_code == 503 and response.headers["retry-after"]
    # No URL was issued, so nothing is coming: the item must not wait for an upload.
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["image_status"] != "pending"


def test_a_stalled_blob_storage_is_a_503_in_seconds(
    client, tenants, auth_header, blob_storage_proxy: StallingProxy
) -> None:
    # Storage accepting connections and then silent: two short tries, then 503, well before
    # Front Door's 60 s (it answered after about 67 s).
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header, role="manager")
    item = build_small_menu(api)["item"]
    ok(api.post(item_upload_path(item["id"]), json=JPEG))  # a warm instance
    blob_storage_proxy.stalled.set()
    answers = answered_within(30, lambda: api.post(item_upload_path(item["id"]), json=JPEG))
    blob_storage_proxy.stalled.clear()
    assert answers, "the upload-URL request still waits on the stalled storage"
    assert answers[0].status_code == 503


class _OwnAccount(DelegationService):
    """DelegationService under an account name of its own (delegation keys are cached per
    account, process-wide)."""

    def __init__(self) -> None:
        super().__init__()
        self.account_name = f"review{uuid.uuid4().hex[:12]}"


def _azure_settings():
    base = {**TEST_SETTINGS, "DATABASE_URL": "postgresql://unused"}
    return load_settings({**base, "AzureWebJobsStorage__accountName": "stellyprod"})


def _sas_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_one_delegation_key_serves_many_urls_and_is_renewed_before_it_ends() -> None:
    """One key signs the URLs of its two hours; a URL past them gets a new key that outlives it
    (a key kept past its expiry signs URLs storage refuses)."""
    settings, service = _azure_settings(), _OwnAccount()
    now = datetime.now(UTC).replace(microsecond=0)
    for minutes in (0, 1, 30):  # three managers' requests within the key's two hours
        start = now + timedelta(minutes=minutes)
        upload_sas(
            "t/logo/x",
            now=start,
            expiry=start + timedelta(minutes=10),
            settings=settings,
            service=service,
        )
    assert len(service.key_requests) == 1
    later = now + timedelta(hours=3)
    expiry = later + timedelta(minutes=10)
    signed = parse_qs(
        upload_sas("t/logo/x", now=later, expiry=expiry, settings=settings, service=service)
    )
    assert len(service.key_requests) == 2
    assert _sas_time(signed["ske"][0]) >= expiry  # the key outlives the URL it signs


def test_upload_urls_and_their_keys_start_a_minute_early() -> None:
    """Storage whose clock is a little behind ours must not refuse a URL, or its key, as not
    yet valid."""
    now = datetime.now(UTC).replace(microsecond=0)
    expiry = now + timedelta(minutes=10)
    service = _OwnAccount()
    signed = parse_qs(
        upload_sas("t/logo/x", now=now, expiry=expiry, settings=_azure_settings(), service=service)
    )
    assert _sas_time(signed["st"][0]) <= now - timedelta(minutes=1)
    assert _sas_time(signed["skt"][0]) <= now - timedelta(minutes=1)
    assert service.key_requests[0][0] <= now - timedelta(minutes=1)


def test_the_longest_slug_a_restaurant_may_have_names_an_upload() -> None:
    """Slugs are 3 to 31 characters (provisioning's SLUG_PATTERN): a 31-character one names
    uploads too."""
    upload = uuid.uuid4()
    for slug in ("abc", "a" * 30 + "z"):
        target = parse_upload_name(f"{slug}/logo/{upload}")
        assert target is not None, slug
        assert (target.slug, target.target, target.upload_id) == (slug, "logo", upload)
    assert parse_upload_name(f"{'a' * 32}/logo/{upload}") is None


def test_a_name_with_more_after_the_upload_id_is_not_an_upload() -> None:
    """A blob named past the upload id is not that upload."""
    item, upload = uuid.uuid4(), uuid.uuid4()
    assert parse_upload_name(f"pizza/item-{item}/{upload}") is not None
    for name in (
        f"pizza/item-{item}/{upload}/x.jpg",
        f"pizza/item-{item}/{upload}.jpg",
        f"pizza/logo/{upload}0",
    ):
        assert parse_upload_name(name) is None, name
