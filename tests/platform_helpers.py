"""The real app on a devhost subprocess, called as a platform admin over HTTP.

One devhost at a time per task hub: a second engine resuming the same instances would drive them
twice, so tests that kill and restart the host reuse this holder instead of starting another.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.durable.store import partition_key, table_names
from devhost.host_config import read_host_json
from shared.db import transaction
from shared.directory import directory_get
from shared.provisioning.deprovision import run_deprovision_step
from shared.provisioning.requests import ProvisionJob, ProvisionRequest, provision_job, schema_for
from shared.storage import table
from tests.conftest import IDENTITY
from tests.devhost.devhost_process import REPO, DevhostProcess, start_app_devhost

PLATFORM_HOST = "stelly.test"
ENDED = ("completed", "failed", "terminated", "canceled")


class PlatformHost:
    """function_app:app on devhost (session Postgres and Azurite), restartable after a kill."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: DevhostProcess = self._start()
        self.admin = {"Authorization": f"Bearer {IDENTITY.mint(role='platform_admin')}"}

    def _start(self) -> DevhostProcess:
        # --no-migrate: the session fixture migrated public; tenants are the tests' business.
        return start_app_devhost(self.data_dir)

    def kill_and_restart(self) -> None:
        """SIGKILL (no clean-up at all), then a fresh process on the same storage."""
        self.process.stop(signal.SIGKILL)
        self.process = self._start()

    def stop(self) -> None:
        self.process.stop()

    def request(
        self, method: str, path: str, *, host: str = PLATFORM_HOST, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Host": host, **self.admin, **kwargs.pop("headers", {})}
        url = self.process.base_url + "/api" + path
        return httpx.request(method, url, headers=headers, timeout=30, **kwargs)

    def provision(self, slug: str, **fields: Any) -> httpx.Response:
        return self.request("POST", "/v1/platform/tenants", json=provision_body(slug, **fields))

    def operation(self, instance_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/v1/platform/operations/{instance_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, instance_id: str, timeout: float = 30) -> dict[str, Any]:
        """The operation once it has ended (asserting it does within timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.operation(instance_id)
            if found["status"] in ENDED:
                return found
            assert time.monotonic() < deadline, f"{instance_id} still {found}"
            time.sleep(0.05)

    def storefront(self, slug: str) -> httpx.Response:
        return self.store_config(f"{slug}.stelly.test")

    def store_config(self, domain: str) -> httpx.Response:
        """The storefront's config as a customer on domain gets it."""
        return self.request("GET", "/v1/store/config", host=domain, headers={})

    def create(self, slug: str, **fields: Any) -> dict[str, Any]:
        """Provision slug and wait for the operation, asserting it completed; its final status."""
        response = self.provision(slug, **fields)
        assert response.status_code == 202, response.text
        done = self.wait(response.json()["id"])
        assert done["status"] == "completed", done
        return done

    def detail(self, slug: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/platform/tenants/{slug}").json()

    def put_domains(self, slug: str, domains: Any, **kwargs: Any) -> httpx.Response:
        path = f"/v1/platform/tenants/{slug}/domains"
        return self.request("PUT", path, json={"domains": domains}, **kwargs)


def own_domain() -> str:
    """A restaurant's own domain, new to every test."""
    return f"order-{uuid.uuid4().hex[:8]}.example"


def unique_slug(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def provision_body(slug: str, **fields: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "display_name": f"Restaurant {slug}",
        "owner_email": f"owner@{slug}.example.com",
        "currency": "EUR",
        "timezone": "Europe/Berlin",
        **fields,
    }


def scalar(query: str, params: list[Any]) -> Any:
    with transaction() as conn:
        row = conn.execute(query, params).fetchone()
    return next(iter(row.values())) if row else None


def schema_exists(schema: str) -> bool:
    return bool(scalar("select count(*) from pg_namespace where nspname = %s", [schema]))


def directory_slug(domain: str) -> str | None:
    record = directory_get(domain)
    return record.slug if record else None


def task_hub_rows_mentioning(instance_id: str, needle: str) -> list[str]:
    """Table/RowKey of every task-hub row of instance_id (devhost's store) whose text holds
    needle."""
    hub = read_host_json(REPO / "host.json").durable_hub_name
    found = []
    for name in table_names(hub):
        rows = table(name).query_entities(
            "PartitionKey eq @pk", parameters={"pk": partition_key(instance_id)}
        )
        found += [
            f"{name}/{row['RowKey']}"
            for row in rows
            if needle in " ".join(str(value) for value in row.values())
        ]
    return found


@pytest.fixture(scope="module", name="host")
def platform_host_fixture(
    tmp_path_factory: pytest.TempPathFactory, migrated_public: None
) -> Iterator[PlatformHost]:
    """The real app in a devhost subprocess, one per test module."""
    platform = PlatformHost(Path(tmp_path_factory.mktemp("platform")))
    yield platform
    platform.stop()


def provision_job_for(slug: str, **fields: Any) -> ProvisionJob:
    """A validated request for slug (provision_body with fields), with an attempt id of its own."""
    made = provision_job(ProvisionRequest.model_validate(provision_body(slug, **fields)))
    return ProvisionJob(made.request, made.fingerprint, uuid.uuid4().hex)


@pytest.fixture(name="jobs")
def jobs_fixture(migrated_public: None) -> Iterator[list[ProvisionJob]]:
    """Jobs a test provisions step by step; their restaurants are deleted and their rows
    removed after."""
    made: list[ProvisionJob] = []
    yield made
    for job in made:
        for step in ("mark_deleting", "remove_directory", "drop_schema", "tombstone"):
            run_deprovision_step(step, job.slug, "cleanup")
        with transaction() as conn:
            conn.execute("delete from tenants where slug = %s", [job.slug])


# Someone waits for this schema's advisory lock (the 64-bit key is split over classid/objid).
WAITING_FOR_SCHEMA_LOCK = """
select count(*) from pg_locks l where l.locktype = 'advisory' and not l.granted
   and ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended('stelly.migrate.' || %s, 0)
"""


@contextmanager
def provisioning_parked_in_create_schema(host: PlatformHost, slug: str) -> Iterator[None]:
    """Provision slug and hold it inside create_schema (waiting for the schema's advisory lock,
    which this block holds) until the block ends."""
    schema = schema_for(slug)
    with transaction() as conn:
        conn.execute(
            "select pg_advisory_xact_lock(hashtextextended('stelly.migrate.' || %s, 0))", [schema]
        )
        assert host.provision(slug).status_code == 202
        for _ in range(400):
            if scalar(WAITING_FOR_SCHEMA_LOCK, [schema]):
                break
            time.sleep(0.025)
        assert scalar(WAITING_FOR_SCHEMA_LOCK, [schema]), "provisioning never reached create_schema"
        yield


def platform_get(client: Any, auth_header: Any, path: str, **params: Any) -> Any:
    """GET /api/v1/platform{path} on the platform host as a platform admin."""
    return client.get(
        f"/api/v1/platform{path}",
        host="stelly.test",
        headers=auth_header("platform_admin"),
        params=params,
    )
