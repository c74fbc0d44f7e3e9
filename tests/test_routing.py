"""devhost's router: templates, constraints, precedence, methods and the route prefix."""

from __future__ import annotations

import azure.functions as func
import pytest

from devhost.routing import MethodNotAllowed, RouteNotFound, Router, compile_template

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _named(name: str):
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(name)

    handler.__name__ = name
    return handler


for name, route, methods in [
    ("by_int", "items/{id:int}", ["GET"]),
    ("by_long", "big/{id:long}", ["GET"]),
    ("any_big", "big/{slug}", ["GET"]),
    ("by_guid", "orders/{id:guid}", ["GET"]),
    ("literal", "items/featured", ["GET"]),
    ("by_any", "items/{slug}", ["GET", "DELETE"]),
    ("optional", "menu/{section?}", ["GET"]),
    ("catch_all", "files/{*rest}", ["GET"]),
    ("post_only", "things", ["POST"]),
]:
    app.route(route=route, methods=methods)(_named(name))
app.route(methods=["GET"])(_named("no_template"))

ROUTER = Router(app.get_functions(), route_prefix="api")


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/api/items/42", "by_int", {"id": "42"}),
        ("GET", "/api/items/featured", "literal", {}),
        ("GET", "/api/items/margherita", "by_any", {"slug": "margherita"}),
        ("GET", "/API/Items/42/", "by_int", {"id": "42"}),
        # int.TryParse's range: a number that overflows int32 is no int, so the plain route wins.
        ("GET", "/api/items/2147483647", "by_int", {"id": "2147483647"}),
        ("GET", "/api/items/2147483648", "by_any", {"slug": "2147483648"}),
        ("GET", "/api/items/-2147483649", "by_any", {"slug": "-2147483649"}),
        ("GET", "/api/items/-2147483648", "by_int", {"id": "-2147483648"}),
        # long takes what int cannot and long.TryParse can, both ends included, nothing beyond.
        ("GET", "/api/big/2147483648", "by_long", {"id": "2147483648"}),
        ("GET", "/api/big/9223372036854775807", "by_long", {}),
        ("GET", "/api/big/-9223372036854775808", "by_long", {}),
        ("GET", "/api/big/9223372036854775808", "any_big", {}),
        ("GET", "/api/big/-9223372036854775809", "any_big", {}),
        ("GET", "/api/orders/0b9e4a52-3f64-4b1e-9a57-2f1e6c1a9c10", "by_guid", {}),
        ("GET", "/api/menu", "optional", {}),
        ("GET", "/api/menu/drinks", "optional", {"section": "drinks"}),
        ("GET", "/api/files/a/b/c.png", "catch_all", {"rest": "a/b/c.png"}),
        ("GET", "/api/no_template", "no_template", {}),
    ],
)
def test_routes_match_like_the_host(method, path, function, params) -> None:
    found = ROUTER.match(method, path)
    assert found.route.function_name == function
    for key, value in params.items():
        assert found.params[key] == value


def test_guid_constraint_rejects_other_text() -> None:
    with pytest.raises(RouteNotFound):
        ROUTER.match("GET", "/api/orders/not-a-guid")


def test_wrong_method_lists_allowed_ones() -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        ROUTER.match("GET", "/api/things")
    assert raised.value.allowed == ["POST"]


def test_unknown_path_and_missing_prefix_are_not_found() -> None:
    for path in ("/api/nothing", "/items/42"):
        with pytest.raises(RouteNotFound):
            ROUTER.match("GET", path)


def test_default_values_fill_missing_optional_parameters() -> None:
    regex, params, _ = compile_template("api/page/{n:int=1}")
    assert regex.fullmatch("/api/page") and params[0].default == "1"


def test_call_passes_route_params_and_query_to_the_function() -> None:
    seen = {}

    def capture(req: func.HttpRequest) -> func.HttpResponse:
        seen.update(route=dict(req.route_params), params=dict(req.params), body=req.get_body())
        return func.HttpResponse("ok")

    local = func.FunctionApp()
    local.route(route="echo/{id}", methods=["POST"])(capture)
    from devhost.testclient import TestClient

    response = TestClient(Router(local.get_functions())).post(
        "/api/echo/7", params={"a": "1"}, body=b"raw"
    )
    assert response.status_code == 200
    assert seen == {"route": {"id": "7"}, "params": {"a": "1"}, "body": b"raw"}
