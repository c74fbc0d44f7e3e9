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
    """`Authorization: Bearer <token>`, else `?access_token=` (what tracking links carry)."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return query.get("access_token", "")


def require_order_access(tenant_id: str, order_id: str, token: str) -> str:
    """The order id in canonical form when token opens it; 404 otherwise (same for all causes)."""
    try:
        canonical = str(uuid.UUID(order_id))
    except ValueError:
        raise errors.not_found("No such order") from None
    if not token or not verify(token, PURPOSE, tenant_id, canonical):
        raise errors.not_found("No such order")
    return canonical
