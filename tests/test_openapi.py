"""`GET /api/openapi.json`: valid OpenAPI 3.1 that lists exactly the routes the app serves."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import azure.functions as func
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from devhost.routing import Router
from devhost.testclient import TestClient, TestResponse
from functions.http import Call, endpoint, json_response
from functions.openapi_routes import openapi_path
from functions.openapi_spec import build_document
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.storefront_helpers import build_small_menu, ok, owner_api

REPO = Path(__file__).resolve().parent.parent
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def described(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, /path) of every operation in the document."""
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def served(router: Router) -> set[tuple[str, str]]:
    """(METHOD, /path) of every httpTrigger the router serves, prefix stripped."""
    prefix = router.route_prefix.strip("/") + "/"
    return {
        (method, openapi_path(route.template.removeprefix(prefix)))
        for route in router.routes
        for method in route.methods
    }


def drift(document: dict[str, Any], router: Router) -> dict[str, set[tuple[str, str]]]:
    """What the description misses, and what it names that nothing serves."""
    return {
        "missing": served(router) - described(document),
        "stale": described(document) - served(router),
    }


def test_description_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_http_function_is_described_and_nothing_else(
    document: dict[str, Any], client: TestClient
) -> None:
    assert drift(document, client.router) == {"missing": set(), "stale": set()}
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_drift_check_names_missing_and_stale_routes(
    document: dict[str, Any], client: TestClient
) -> None:
    doctored = copy.deepcopy(document)
    del doctored["paths"]["/health"]
    doctored["paths"]["/v1/store/gone"] = {"get": doctored["paths"]["/v1/store/menu"]["get"]}
    assert drift(doctored, client.router) == {
        "missing": {("GET", "/health")},
        "stale": {("GET", "/v1/store/gone")},
    }


def test_order_placement_is_described_from_its_models(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/store/orders"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OrderIn"}
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/OrderReceiptOut"}
    receipt = document["components"]["schemas"]["OrderReceiptOut"]
    assert {"id", "ticket_number", "status", "version", "totals", "access_token"} <= set(
        receipt["required"]
    )
    # A body can be malformed, too large, of another media type or invalid; the host can be
    # unknown, gone or provisioning; placing orders is rate limited.
    assert {"400", "404", "410", "413", "415", "422", "429", "503"} <= set(operation["responses"])
    assert operation["security"] == [] and operation["x-stelly-host"] == "tenant"
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]


def test_admin_writes_document_ids_versions_and_roles(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/admin/menu/categories/{id}"]["delete"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["id"]["in"] == "path" and parameters["id"]["schema"]["format"] == "uuid"
    assert parameters["expected_version"]["in"] == "query"
    assert parameters["expected_version"]["schema"]["type"] == "integer"
    assert parameters["If-Match"]["in"] == "header"
    assert {"204", "401", "403", "404", "409", "412"} <= set(operation["responses"])
    assert "content" not in operation["responses"]["204"]
    assert operation["security"] == [{"bearerAuth": []}]
    problem = operation["responses"]["403"]
    assert problem == {"$ref": "#/components/responses/Problem403"}
    shared = document["components"]["responses"]["Problem403"]["content"]
    assert shared["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_kitchen_events_query_is_described(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/kitchen/events"]["get"]
    query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    assert query["after"]["type"] == "integer" and query["after"]["minimum"] == 0
    assert query["limit"]["maximum"] >= query["limit"]["minimum"] == 1


def test_health_documents_both_answers_and_no_auth(document: dict[str, Any]) -> None:
    operation = document["paths"]["/health"]["get"]
    for status in ("200", "503"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/HealthReport"}
    assert operation["security"] == [] and operation["x-stelly-host"] == "any"


def test_security_scheme_and_servers(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert document["servers"][0]["url"] == "/api"


def test_description_is_cached_with_an_etag(client: TestClient) -> None:
    first = client.get("/api/openapi.json")
    again = client.get("/api/openapi.json", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.body == b""


def test_functions_outside_endpoint_are_listed_generically() -> None:
    """A route without @endpoint (a durable client starter, say) still appears."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/things/{id:int}", methods=["GET"])
    @endpoint(summary="One thing")
    def get_thing(call: Call) -> func.HttpResponse:
        return json_response({})

    @app.route(route="v1/start/{name}")
    def start(req: func.HttpRequest) -> func.HttpResponse:
        """Start something."""
        return func.HttpResponse(status_code=202)

    built = build_document(app, app_dir=REPO)
    validate(built)
    thing = built["paths"]["/v1/things/{id}"]["get"]
    assert thing["parameters"][0]["schema"]["type"] == "integer"
    starter = built["paths"]["/v1/start/{name}"]
    assert set(starter) == {"get", "post", "put", "patch", "delete", "head", "options"}
    assert starter["post"]["responses"] == {"default": {"description": "Defined by the function"}}
    assert starter["post"]["description"] == "Start something."


def test_statuses_the_edge_gives_any_operation_are_documented(
    client: TestClient, document: dict[str, Any], tenants
) -> None:
    # The edge refuses NUL in any path or query value (422) and a declared body over 1 MiB (413)
    # before the handler runs, whatever the operation declares.
    tenant = tenants.create()
    answers = {
        "/health": client.get("/api/health", params={"probe": "\x00"}),
        "/openapi.json": client.get("/api/openapi.json", headers={"content-length": "2097152"}),
        "/v1/store/tables/{token}": client.get(
            "/api/v1/store/tables/a\x00b", host=f"{tenant.slug}.stelly.test"
        ),
    }
    for path, response in answers.items():
        documented = set(document["paths"][path]["get"]["responses"])
        assert response.status_code in (413, 422), (path, response.status_code)
        assert str(response.status_code) in documented, (path, response.status_code, documented)


def test_order_reads_document_their_access_token(document: dict[str, Any]) -> None:
    """Anonymous for the restaurant's roles, but opened by the receipt's token as a bearer."""
    scheme = document["components"]["securitySchemes"]["orderAccessToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path in ("/v1/store/orders/{id}", "/v1/store/orders/{id}/negotiate"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == [{"orderAccessToken": []}], path
        assert "400" in operation["responses"], path  # the token sent in the URL
    placing = document["paths"]["/v1/store/orders"]["post"]
    assert placing["security"] == []


# Response headers a client has to read to use the API as the README describes it: the ETag it
# sends back in If-Match, where a created row lives, and how long to wait before retrying.
ACTIONABLE_HEADERS = ("etag", "location", "retry-after")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, /path, operation) for every operation in the document."""
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """node with its local `$ref`s followed."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def request_body_validator(document: dict[str, Any], path: str, method: str):
    content = document["paths"][path][method]["requestBody"]["content"]
    schema = content["application/json"]["schema"]
    return Draft202012Validator(
        {**schema, "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,  # as a generated client checks
    )


def undeclared_headers(
    document: dict[str, Any], method: str, path: str, response: TestResponse
) -> list[str]:
    """Actionable headers the answer carries that the description of that answer leaves out."""
    responses = document["paths"][path][method.lower()]["responses"]
    declared_answer = resolve(document, responses[str(response.status_code)])
    declared = {name.lower() for name in declared_answer.get("headers", {})}
    return [
        f"{method} {path} → {response.status_code}: {name}: {response.headers[name]}"
        for name in ACTIONABLE_HEADERS
        if name in response.headers and name not in declared
    ]


def test_patch_bodies_the_description_declares_valid_are_accepted(
    document: dict[str, Any], client: TestClient, tenants, auth_header
) -> None:
    # A client generated from the description must never send a body the server refuses.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    small = build_small_menu(api)
    category, group, item = small["category"], small["group"], small["item"]
    option = group["options"][0]
    cases = [
        ("categories", category["id"], {"visible": False, "rank": None}),
        ("categories", category["id"], {"name": None, "visible": True}),
        ("items", item["id"], {"price": 990, "description": None}),
        ("groups", group["id"], {"name": "Sizes", "free_quantity": None}),
        ("options", option["id"], {"name": "Small", "default": None}),
    ]
    refused = []
    for kind, row_id, body in cases:
        path = f"/v1/admin/menu/{kind}/{{id}}"
        if not request_body_validator(document, path, "patch").is_valid(body):
            continue  # the description says not to send it: nothing to hold the server to
        response = api.patch(f"/v1/admin/menu/{kind}/{row_id}", json=body)
        if response.status_code == 422:
            refused.append((path, body, response.json()["detail"]))
    assert refused == []


def test_actionable_response_headers_are_described(
    document: dict[str, Any], client: TestClient, tenants, auth_header, shop: Shop
) -> None:
    # ETag, Location and Retry-After that real answers carry are in the description too.
    api = owner_api(client, shop.tenant, auth_header)
    created = api.post("/v1/admin/menu/categories", json={"name": "Desserts"})
    ok(created, 201)
    changed = api.patch(
        f"/v1/admin/menu/categories/{created.json()['id']}", json={"name": "Sweets"}
    )
    ok(changed)
    menu = client.get("/api/v1/store/menu", host=shop.host)
    ok(menu)
    description = client.get("/api/openapi.json")
    unchanged = client.get(
        "/api/openapi.json", headers={"if-none-match": description.headers["etag"]}
    )
    assert unchanged.status_code == 304
    provisioning = tenants.create(status="provisioning")
    not_yet = client.get("/api/v1/store/config", host=f"{provisioning.slug}.stelly.test")
    assert not_yet.status_code == 503
    answers = [
        ("POST", "/v1/admin/menu/categories", created),
        ("PATCH", "/v1/admin/menu/categories/{id}", changed),
        ("GET", "/v1/store/menu", menu),
        ("GET", "/v1/store/config", not_yet),
        ("GET", "/openapi.json", description),
        ("GET", "/openapi.json", unchanged),
    ]
    for _, _, response in answers:
        assert any(name in response.headers for name in ACTIONABLE_HEADERS)
    missing = [line for answer in answers for line in undeclared_headers(document, *answer)]
    assert missing == []


def test_bodies_the_description_declares_valid_pass_the_field_rules(
    document: dict[str, Any], client: TestClient, auth_header, shop: Shop
) -> None:
    # What the server refuses on a field rule alone, the description refuses too: a PATCH
    # naming only expected_version, a group with max 0, a pickup without name and phone, an
    # order line whose item_id is not a UUID.
    api = owner_api(client, shop.tenant, auth_header)
    small = build_small_menu(api)
    category, group = small["category"], small["group"]
    pickup = {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0000"}
    cases = [
        ("patch", "/v1/admin/menu/categories/{id}", f"/v1/admin/menu/categories/{category['id']}",
         {"expected_version": 1}),
        ("patch", "/v1/admin/menu/groups/{id}", f"/v1/admin/menu/groups/{group['id']}",
         {"expected_version": 1}),
        ("post", "/v1/admin/menu/groups", "/v1/admin/menu/groups",
         {"name": "Extras", "max": 0}),
        ("post", "/v1/store/orders", "/v1/store/orders",
         {"lines": [shop.cola_line()], "fulfilment": {"type": "pickup"}}),
        ("post", "/v1/store/orders", "/v1/store/orders",
         {"lines": [{"item_id": "cola", "quantity": 1}], "fulfilment": pickup}),
    ]  # fmt: skip
    refused = []
    for method, path, url, body in cases:
        if not request_body_validator(document, path, method).is_valid(body):
            continue  # the description says not to send it: nothing to hold the server to
        headers = {"X-Forwarded-For": "10.61.0.1"} if path == "/v1/store/orders" else {}
        response = api.call(method.upper(), url, json=body, headers=headers)
        if response.status_code == 422:
            refused.append(f"{method.upper()} {path} {body} → 422 {response.json()['detail']}")
    assert refused == [], "\n".join(refused)
    # And the description still admits what the server takes.
    for kind, fulfilment in (
        ("pickup", pickup),
        ("dine_in", {"type": "dine_in", "table_token": "t"}),
    ):
        body = {"lines": [shop.cola_line()], "fulfilment": fulfilment}
        assert request_body_validator(document, "/v1/store/orders", "post").is_valid(body), kind


def test_the_description_refuses_the_fulfilments_the_server_refuses(
    client: TestClient, shop: Shop
) -> None:
    # A type's fields present but null, or a table token on a pickup: 422 on those fields.
    document = client.get("/api/openapi.json").json()
    validator = request_body_validator(document, "/v1/store/orders", "post")
    fulfilments = [
        {"type": "pickup", "name": None, "phone": None},
        {"type": "dine_in", "table_token": None},
        {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0000", "table_token": "t"},
    ]
    admitted_but_refused = []
    for fulfilment in fulfilments:
        body = {"lines": [shop.cola_line()], "fulfilment": fulfilment}
        response = shop.post_order(body)
        assert response.status_code == 422, response.text
        paths = sorted(error["path"] for error in response.json()["errors"])
        assert all(path.startswith("fulfilment.") for path in paths), response.text
        if validator.is_valid(body):
            admitted_but_refused.append(f"{fulfilment} -> 422 {paths}")
    # The description must not admit what the server refuses on a field rule.
    assert admitted_but_refused == []
