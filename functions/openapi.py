"""`GET /api/openapi.json`: the app's OpenAPI 3.1 description, built once per process."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import azure.functions as func

from functions.http import Call, cached_json_response, endpoint
from functions.openapi_spec import build_document
from shared.rendered_cache import content_etag

bp = func.Blueprint()

CACHE_CONTROL = "public, max-age=300"


@functools.cache
def openapi_bytes() -> tuple[bytes, str]:
    """The serialised document and its ETag; the route table cannot change while we run."""
    # Imported here: function_app imports this module to register its blueprint.
    import function_app

    document = build_document(function_app.app, app_dir=Path(function_app.__file__).parent)
    payload = json.dumps(document, separators=(",", ":")).encode()
    return payload, content_etag(payload)


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    headers=("If-None-Match",),
    response_headers={200: ("ETag",), 304: ("ETag",)},
    summary="This API's OpenAPI 3.1 description",
)
def openapi_document(call: Call) -> func.HttpResponse:
    """Generated from the route table and the endpoints' pydantic models; any host, no token."""
    payload, etag = openapi_bytes()
    return cached_json_response(call.req, payload, etag=etag, cache_control=CACHE_CONTROL)
