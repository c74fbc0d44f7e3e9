"""Health: 200 when Postgres and storage answer, 503 naming what is down (real failures)."""

from __future__ import annotations

import os
import re

import pytest

from devhost.services import AzuritePorts, free_port
from shared import db
from shared.config import get_settings
from tests.stalling_proxy import StallingProxy, answered_within, database_proxy_fixture  # noqa: F401


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch):
    """Point one setting at a service that is not there, with fresh settings and pool."""

    def apply(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        db.close_pool()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
    db.close_pool()


def test_health_ok(client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["storage"] == "ok"
    assert body["version"]


def test_database_down_is_503_naming_it(client, broken, tmp_path) -> None:
    broken("DATABASE_URL", f"postgresql://postgres:@/postgres?host={tmp_path}&connect_timeout=1")
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["database"] == "down" and response.json()["storage"] == "ok"


def test_storage_down_is_503_naming_it(client, broken) -> None:
    port = free_port()
    broken("AzureWebJobsStorage", AzuritePorts(port, port, port).connection_string())
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json() == {**response.json(), "storage": "down", "database": "ok"}


def test_blob_service_down_is_503_naming_storage(client, broken) -> None:
    # Tables answer but blobs (images, assets, uploads) do not.
    current = os.environ["AzureWebJobsStorage"]
    blobs_gone = re.sub(r"(BlobEndpoint=http://[^:]+:)\d+", rf"\g<1>{free_port()}", current)
    assert blobs_gone != current
    broken("AzureWebJobsStorage", blobs_gone)
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["storage"] == "down" and response.json()["database"] == "ok"


def test_a_database_that_stops_answering_is_reported_down(
    client, database_proxy: StallingProxy
) -> None:
    # libpq has no read timeout: the probe must not wait on a silent server for good.
    assert client.get("/api/health").status_code == 200
    database_proxy.stalled.set()
    answers = answered_within(15, lambda: client.get("/api/health"))
    database_proxy.stalled.clear()
    assert answers, "the probe still waits on the silent database"
    assert answers[0].status_code == 503 and answers[0].json()["database"] == "down"
