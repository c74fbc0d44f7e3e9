"""What the served API description promises an integrator beyond each answer's headers: every
error status an operation can answer, bodies a client must send, path values it must not, and
whose restaurant a token's roles are for. Where cheap, the promise is checked against a real
answer too."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from devhost.testclient import TestClient
from tests.storefront_helpers import ok, owner_api
from tests.test_openapi import operations, resolve

PLATFORM_HOST = "stelly.test"


def test_every_declared_operation_documents_the_500_problem(document: dict[str, Any]) -> None:
    """An unhandled error is a problem+json 500 on any @endpoint operation, and a generated
    client only parses it as a Problem when the description says so."""
    missing = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if "security" in operation  # behind @endpoint (a durable starter is listed generically)
        and "500" not in operation["responses"]
    ]
    assert missing == []
    problem = resolve(document, document["paths"]["/health"]["get"]["responses"]["500"])
    schema = problem["content"]["application/problem+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Problem"}


def test_platform_operations_document_404_off_the_platform_host_and_503(
    client: TestClient, tenants, auth_header, document: dict[str, Any]
) -> None:
    """Platform operations list the 404 they answer through a restaurant's host, and the 503 of
    a key server that is down, though they are not a restaurant's."""
    tenant = tenants.create()
    admin = auth_header("platform_admin")
    via_restaurant = client.get("/api/v1/platform/tenants", host=f"{tenant.slug}.stelly.test",
                                headers=admin)  # fmt: skip
    assert via_restaurant.status_code == 404, via_restaurant.text
    assert client.get("/api/v1/platform/tenants", host=PLATFORM_HOST,
                      headers=admin).status_code == 200  # fmt: skip
    platform = [
        (method, path, operation)
        for method, path, operation in operations(document)
        if path.startswith("/v1/platform/")
    ]
    assert len(platform) >= 5
    for method, path, operation in platform:
        assert operation["x-stelly-host"] == "platform", (method, path)
        assert operation["security"] == [{"bearerAuth": []}], (method, path)
        assert {"401", "403", "404", "503"} <= set(operation["responses"]), (method, path)


def test_a_stale_expected_version_answers_a_documented_409(
    client: TestClient, tenants, auth_header, document: dict[str, Any]
) -> None:
    """A write with a stale expected_version answers 409, which the description of every
    If-Match write lists beside If-Match's own 412."""
    api = owner_api(client, tenants.create(), auth_header)
    created = api.post("/v1/admin/menu/categories", json={"name": "Desserts"})
    ok(created, 201)
    path = f"/v1/admin/menu/categories/{created.json()['id']}"
    version = created.json()["version"]
    ok(api.patch(path, json={"name": "Sweets", "expected_version": version}))
    stale = api.patch(path, json={"name": "Cakes", "expected_version": version})
    assert stale.status_code == 409, stale.text
    for method, template, operation in operations(document):
        if any(p["name"] == "If-Match" for p in operation.get("parameters", [])):
            assert "409" in operation["responses"], (method, template)


def test_unconstrained_path_parameters_refuse_a_slash(document: dict[str, Any]) -> None:
    """A path value with a slash would be another route, so the description forbids one."""
    operation = document["paths"]["/v1/store/tables/{token}"]["get"]
    (token,) = [p for p in operation["parameters"] if p["name"] == "token"]
    validator = Draft202012Validator(token["schema"])
    assert validator.is_valid("abc-123")
    assert not validator.is_valid("a/b")
    assert not validator.is_valid("")


def test_request_bodies_are_required_as_the_server_requires_them(
    client: TestClient, tenants, auth_header, document: dict[str, Any]
) -> None:
    """The server refuses a declared body's absence, so no request body is optional."""
    api = owner_api(client, tenants.create(), auth_header)
    absent = api.post("/v1/admin/menu/categories", headers={"Content-Type": "application/json"})
    assert absent.status_code == 400, absent.text
    assert absent.json()["detail"] == "The request needs a JSON body"
    for method, path, operation in operations(document):
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True, (method, path)


def test_role_descriptions_say_whose_restaurant(document: dict[str, Any]) -> None:
    """An admin operation says its token must be for the host's restaurant; a platform
    operation's roles are not scoped so."""
    admin = document["paths"]["/v1/admin/menu/categories"]["post"]["description"]
    assert "Token roles: owner, manager of the host's restaurant." in admin
    platform = document["paths"]["/v1/platform/tenants"]["get"]["description"]
    assert "Token roles: platform_admin." in platform


def test_only_writes_describe_the_pending_database_update_409(client) -> None:
    """A restaurant's write may meet a database check its schema has not widened yet (409);
    a read meets none, so its description lists no 409."""
    document = ok(client.get("/api/openapi.json", host="stelly.test"))
    settings = document["paths"]["/v1/admin/settings"]
    assert "409" not in settings["get"]["responses"], sorted(settings["get"]["responses"])
    assert "409" in settings["put"]["responses"], sorted(settings["put"]["responses"])
    store = document["paths"]["/v1/store/menu"]["get"]["responses"]
    assert "409" not in store, sorted(store)
