"""Order access tokens: what lets a customer read and follow their own order.

Derived (HMAC over tenant and order id), never stored, so a database dump alone cannot be used
to follow orders. Without the right token an order is a 404: ids are not enumerable.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from shared import errors
from shared.signing import sign, verify

PURPOSE = "order-access"


def order_access_token(tenant_id: str, order_id: str) -> str:
    return sign(PURPOSE, tenant_id, order_id)


def presented_tokens(headers: Mapping[str, str], query: Mapping[str, str]) -> list[str]:
    """`Authorization: Bearer <token>` and `?access_token=` (what tracking links carry).

    Both are tried: a restaurant's own admin app, signed in on the same host with its staff
    token, opens a customer's tracking link, and the link's token must still count.
    """
    tokens = []
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        tokens.append(token.strip())
    if query.get("access_token"):
        tokens.append(query["access_token"])
    return tokens


def require_order_access(tenant_id: str, order_id: str, tokens: Iterable[str]) -> str:
    """The order id in canonical form when a token opens it; 404 otherwise (same for all causes)."""
    try:
        canonical = str(uuid.UUID(order_id))
    except ValueError:
        raise errors.not_found("No such order") from None
    if not any(token and verify(token, PURPOSE, tenant_id, canonical) for token in tokens):
        raise errors.not_found("No such order")
    return canonical
