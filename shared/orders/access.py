"""Order access tokens: what lets a customer read and follow their own order.

Derived (HMAC over tenant and order id), never stored, so a database dump alone cannot be used
to follow orders. Without the right token an order is a 404: ids are not enumerable.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from shared import errors
from shared.signing import sign, verify

PURPOSE = "order-access"


def order_access_token(tenant_id: str, order_id: str) -> str:
    return sign(PURPOSE, tenant_id, order_id)


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The token of `Authorization: Bearer <token>` ("" when there is none).

    Only the header counts: a URL is written down by every hop (Front Door's access log, the
    Functions host's request telemetry, browser history), and this token opens a customer's
    name and order for as long as the order is kept. A token in the query is refused with a
    400 that says where it goes, not ignored into a 404 a developer would puzzle over.
    """
    if "access_token" in query:
        raise errors.bad_request(
            "Send the order's access token as `Authorization: Bearer <token>`, "
            "not in the URL: URLs end up in request logs"
        )
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def require_order_access(tenant_id: str, order_id: str, token: str) -> str:
    """The order id in canonical form when a token opens it; 404 otherwise (same for all causes)."""
    try:
        canonical = str(uuid.UUID(order_id))
    except ValueError:
        raise errors.not_found("No such order") from None
    if not (token and verify(token, PURPOSE, tenant_id, canonical)):
        raise errors.not_found("No such order")
    return canonical
