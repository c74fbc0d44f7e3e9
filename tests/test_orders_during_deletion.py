"""Orders while a restaurant's deletion begins: a customer is never told 201 for an order the
deletion is about to drop, even when the record the request was served from still says
`active` (another instance's 5-second cache, or a directory Table Storage could not update)."""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from azure.core.exceptions import AzureError

from shared import storage
from shared.config import get_settings
from shared.directory import directory_get
from shared.provisioning.deprovision import run_deprovision_step
from tests.conftest import execute
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401 (fixtures)


def _closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def table_storage_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Table Storage refusing connections (restarting, unreachable), then back."""
    current = os.environ["AzureWebJobsStorage"]
    dead = re.sub(r"(TableEndpoint=http://[^:;]+:)\d+", rf"\g<1>{_closed_port()}", current)
    assert dead != current
    monkeypatch.setenv("AzureWebJobsStorage", dead)
    get_settings.cache_clear()
    storage.reset_clients()
    try:
        yield
    finally:
        monkeypatch.setenv("AzureWebJobsStorage", current)
        get_settings.cache_clear()
        storage.reset_clients()


def _orders(shop: Shop) -> int:
    return execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"]


def test_an_order_served_from_a_stale_active_record_is_refused_once_deletion_began(
    shop: Shop,
) -> None:
    """Another instance served the order from its cached record (`active`) just after the
    deletion marked the restaurant `deleting`: 410, no order written, the key free again."""
    shop.place()  # the record is cached here, as `active`
    execute("update public.tenants set status = 'deleting' where id = %s", [shop.tenant.id])
    try:
        key = str(uuid.uuid4())
        refused = shop.post_order(key=key)
        assert refused.status_code == 410, refused.text
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert _orders(shop) == 1
        keys = execute(f"select count(*) as n from {shop.schema}.idempotency_keys where key = %s",
                       [key])  # fmt: skip
        assert keys[0]["n"] == 0
    finally:
        execute("update public.tenants set status = 'active' where id = %s", [shop.tenant.id])


def test_a_deletion_begun_while_table_storage_was_down_takes_no_order_meanwhile(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deletion marks the restaurant `deleting` in Postgres, then cannot tell the directory
    (Table Storage down): the step fails, to be retried. Once Table Storage is back, the
    directory still says `active` until the deletion resumes, yet no order is taken; the
    resumed step then makes every storefront answer 410."""
    shop.place()
    with table_storage_down(monkeypatch), pytest.raises(AzureError):
        run_deprovision_step("mark_deleting", shop.slug, "deprovision-test")
    record = directory_get(shop.host)
    assert record is not None and record.status == "active"  # stale until the resume
    refused = shop.post_order()
    assert refused.status_code == 410, refused.text
    assert _orders(shop) == 1

    assert run_deprovision_step("mark_deleting", shop.slug, "deprovision-test")["ok"]
    assert directory_get(shop.host).status == "deleting"
    config = shop.client.get("/api/v1/store/config", host=shop.host)
    assert config.status_code == 410, config.text
