"""The errors an endpoint's declaration implies, and what an error answer looks like.

The statuses mirror what functions/http.py and shared/ raise before or around a handler, so the
description stays true without each handler listing them: change one side, change the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from functions.http import EndpointSpec
from functions.openapi_routes import has_path_parameters

# Unhandled errors answer a problem with only the correlation id; build_call refuses a NUL in any
# path or query value (422) and a declared body over 1 MiB (413) whatever the operation takes.
ALWAYS = {413, 422, 500}
# tenancy.require_serving: unknown or failed host 404, suspended 403, gone 410, provisioning 503.
TENANT = {403, 404, 410, 503}
# Platform operations through a restaurant's host are 404.
PLATFORM = {404}
# auth.authenticate: no or bad token 401, wrong role or restaurant 403, key server down 503.
ROLES = {401, 403, 503}
# parse_json_body / parse_model (request_bodies): broken JSON 400, over 1 MiB 413, not JSON 415,
# schema 422.
BODY = {400, 413, 415, 422}
QUERY = {422}
# access.presented_token: an order's access token in the URL instead of Authorization is 400.
ORDER_ACCESS = {400}
# An id that names nothing here, or a value the route constraint rejects.
PATH = {404}
# A restaurant's write meeting a database check its schema has not widened yet (the fleet
# migration has not reached it): 409 "its database update is pending" (functions/http.py).
SCHEMA_BEHIND = {409}
READS = {"GET", "HEAD", "OPTIONS"}
# Request headers a handler reads: (name as documented, description, statuses they add).
# versioning.expected_version: an ETag we never sent or a stale one is 412; the stale
# expected_version it stands in for is 409. Idempotency-Key: malformed 400, reused with another
# body 422, still in flight 409. If-None-Match: 304 while the client's copy is current.
HEADERS: dict[str, tuple[str, str, set[int]]] = {
    "if-match": (
        "If-Match",
        'The ETag you were given (e.g. `"3"`); 412 when it is stale.',
        {409, 412},
    ),
    "if-none-match": (
        "If-None-Match",
        "An ETag you hold; 304 while it is current.",
        {304},
    ),
    "idempotency-key": (
        "Idempotency-Key",
        "1-255 visible ASCII characters (a UUID): a retry with the same key and body gets the "
        "first answer again instead of doing the work twice.",
        {400, 409, 422},
    ),
}


class FieldProblem(BaseModel):
    """One invalid input: where, and what to send instead."""

    path: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    correlation_id: str | None = None
    errors: list[FieldProblem] | None = None
    # Field errors past the first 50 of a 422, counted rather than listed.
    errors_omitted: int | None = None


def implied_statuses(spec: EndpointSpec, route: str, methods: Iterable[str]) -> set[int]:
    """Every status the wrapper and the shared checks can answer for an endpoint like spec."""
    statuses = set(ALWAYS)
    if spec.tenant:
        statuses |= TENANT - {403} if spec.while_suspended else TENANT
        if not READS.issuperset(methods):
            statuses |= SCHEMA_BEHIND
    if spec.platform:
        statuses |= PLATFORM
    if spec.roles is not None:
        statuses |= ROLES
    if spec.body is not None:
        statuses |= BODY
    if spec.query is not None:
        statuses |= QUERY
    if spec.order_access:
        statuses |= ORDER_ACCESS
    if has_path_parameters(route):
        statuses |= PATH
    for header in spec.headers:
        statuses |= HEADERS.get(header.lower(), ("", "", set()))[2]
    return statuses


def header_parameters(names: Iterable[str]) -> list[dict[str, Any]]:
    """`in: header` parameters for the request headers an endpoint reads."""
    parameters = []
    for raw in names:
        name, description, _ = HEADERS.get(raw.lower(), (raw, "", set()))
        parameter: dict[str, Any] = {"name": name, "in": "header", "required": False}
        if description:
            parameter["description"] = description
        parameters.append({**parameter, "schema": {"type": "string"}})
    return parameters
