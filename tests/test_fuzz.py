"""Fuzzing: schemathesis sends generated requests to the real app on devhost, per its own spec.

The description is fetched from the running server (`/api/openapi.json`), every operation gets
valid and invalid requests as an anonymous caller, an owner and a kitchen (`staff`) user of a
private restaurant, and any 5xx, undocumented status, undocumented content type or response
that breaks its schema fails the test with a curl command that reproduces it. Bounded: a few
examples per operation, derandomized, no shrinking, so a run is quick and repeatable.
"""

from __future__ import annotations

from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.tenants import TenantRecord
from tests.conftest import IDENTITY
from tests.devhost.devhost_process import DevhostProcess, start_app_devhost
from tests.order_fixtures import Shop, module_shop_fixture  # noqa: F401

pytestmark = pytest.mark.devhost

EXAMPLES_PER_STRATEGY = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CALLERS = ("anonymous", "owner", "staff")


@pytest.fixture(scope="module")
def fuzz_tenant(module_shop: Shop) -> TenantRecord:
    """A restaurant of its own with a published menu: the fuzzer rewrites it at random."""
    return module_shop.tenant


@pytest.fixture(scope="module")
def known_rows(module_shop: Shop) -> dict[str, str]:
    """Ids of real rows by the path that names them, so some requests get past the 404."""
    shop, owner = module_shop, module_shop.owner()
    menu = shop.client.get("/api/v1/admin/menu", host=shop.host, headers=owner).json()
    category = menu["categories"][0]
    group = menu["modifier_groups"][0]
    table = shop.client.post(
        "/api/v1/admin/tables", host=shop.host, headers=owner, json={"label": "T1", "seats": 4}
    ).json()
    order = shop.place()
    return {
        "/v1/admin/menu/categories/{id}": category["id"],
        "/v1/admin/menu/items/{id}": category["items"][0]["id"],
        "/v1/admin/menu/groups/{id}": group["id"],
        "/v1/admin/menu/options/{id}": group["options"][0]["id"],
        "/v1/admin/tables/{id}": table["id"],
        "/v1/store/tables/{token}": table["qr_token"],
        "/v1/store/orders/{id}": order["id"],
        "/v1/kitchen/orders/{id}": order["id"],
    }


@pytest.fixture(scope="module")
def fuzz_host(tmp_path_factory: pytest.TempPathFactory, fuzz_tenant: TenantRecord):
    """The real function_app on devhost, on the test session's Postgres and Azurite."""
    process: DevhostProcess = start_app_devhost(Path(tmp_path_factory.mktemp("fuzz")))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_host: DevhostProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fuzz_host.base_url + "/api/openapi.json")


def caller_headers(caller: str, host_kind: str, tenant: TenantRecord) -> dict[str, str]:
    """The identity and, for restaurant operations, the restaurant's host."""
    headers: dict[str, str] = {}
    if caller != "anonymous":
        headers["Authorization"] = f"Bearer {IDENTITY.mint(role=caller, tenant=tenant.slug)}"
    if host_kind == "tenant":
        # Development mode trusts X-Forwarded-Host, as Front Door's forwarded host in Azure.
        headers["X-Forwarded-Host"] = f"{tenant.slug}.stelly.test"
    return headers


def strategies(
    operation: schemathesis.APIOperation, known_rows: dict[str, str]
) -> list[SearchStrategy[schemathesis.Case]]:
    """Valid and invalid requests, plus valid ones naming a real row when there is one."""
    found = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    for prefix, value in known_rows.items():
        if operation.path.startswith(prefix):
            name = prefix.rsplit("{", 1)[1].rstrip("}")
            found.append(operation.as_strategy(path_parameters={name: value}))
    return found


def fuzz_operation(
    operation: schemathesis.APIOperation,
    *,
    base_url: str,
    headers: dict[str, str],
    session: requests.Session,
    known_rows: dict[str, str],
) -> list[str]:
    """Failure reports (with a curl command each) for a few generated requests."""
    failures: list[str] = []
    choices = strategies(operation, known_rows)

    @hypothesis.given(case=st.one_of(choices))
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_STRATEGY * len(choices),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(
                base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30
            )
        except BaseExceptionGroup as group:
            # Collected rather than raised: one operation's failure must not hide the others'.
            failures.append(str(group))
        except AssertionError as failure:
            failures.append(str(failure))

    run()
    return failures


@pytest.mark.timeout(300)
@pytest.mark.parametrize("caller", CALLERS)
def test_api_answers_as_described(
    caller: str,
    api_schema: schemathesis.BaseSchema,
    fuzz_host: DevhostProcess,
    fuzz_tenant: TenantRecord,
    known_rows: dict[str, str],
) -> None:
    failures: list[str] = []
    operations = 0
    with requests.Session() as session:
        for result in api_schema.get_all_operations():
            operation = result.ok()
            operations += 1
            host_kind = operation.definition.raw.get("x-stelly-host", "any")
            failures += fuzz_operation(
                operation,
                base_url=fuzz_host.base_url + "/api",
                headers=caller_headers(caller, host_kind, fuzz_tenant),
                session=session,
                known_rows=known_rows,
            )
    assert operations > 10, "the description lists too few operations to be the real app"
    assert not failures, f"{len(failures)} failing requests as {caller}:\n\n" + "\n\n".join(
        failures
    )
