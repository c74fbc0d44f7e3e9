"""An in-process client that goes through devhost's router, as the local server does."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import azure.functions as func

from devhost.http_front import response_headers
from devhost.routing import MethodNotAllowed, RouteNotFound, Router, build_request, problem_document


class Headers(dict):
    """Case-insensitive read access to response headers."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key).lower())


@dataclass
class TestResponse:
    status_code: int
    headers: Headers
    body: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0]


def to_test_response(response: func.HttpResponse) -> TestResponse:
    # The headers devhost would put on the wire, Content-Type included.
    wire = response_headers(response)
    headers = Headers({name.decode(): value.decode() for name, value in wire})
    return TestResponse(response.status_code, headers, response.get_body() or b"")


class TestClient:
    """`client.get("/api/v1/store/config", host="demo.localhost")` → TestResponse."""

    __test__ = False  # not a pytest test class

    def __init__(self, router: Router, *, default_host: str = "localhost:7071") -> None:
        self.router = router
        self.default_host = default_host

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> TestResponse:
        all_headers = {"host": host or self.default_host}
        if json is not None:
            body = jsonlib.dumps(json).encode()
            all_headers["content-type"] = "application/json"
        all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
        query = f"?{urlencode(params)}" if params else ""
        url = f"http://{all_headers['host']}{path}{query}"
        try:
            found = self.router.match(method, path)
        except RouteNotFound:
            return self._problem(404, "Not found", f"No function serves {method} {path}", path)
        except MethodNotAllowed as error:
            response = self._problem(
                405, "Method not allowed", f"Allowed: {', '.join(error.allowed)}", path
            )
            response.headers["allow"] = ", ".join(error.allowed)
            return response
        request = build_request(
            method, url, headers=all_headers, body=body or b"", route_params=found.params
        )
        return to_test_response(self.router.call_sync(found, request))

    @staticmethod
    def _problem(status: int, title: str, detail: str, path: str) -> TestResponse:
        headers = Headers({"content-type": "application/problem+json"})
        return TestResponse(status, headers, problem_document(status, title, detail, path))

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)
