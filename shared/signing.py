"""HMAC-SHA256 tokens for things a customer holds: table QR codes and order access tokens.

Each purpose signs with its own key derived from QR_SIGNING_KEY (HMAC of the purpose name), so a
signature made for one purpose never verifies for another.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from shared.config import get_settings


@functools.cache
def _purpose_key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"stelly/{purpose}".encode(), hashlib.sha256).digest()


def sign(purpose: str, *parts: str) -> str:
    """URL-safe base64 (43 characters) of the HMAC over parts joined by `|`."""
    key = _purpose_key(get_settings().qr_signing_key.get_secret_value(), purpose)
    digest = hmac.new(key, "|".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(signature: str, purpose: str, *parts: str) -> bool:
    """True when signature is sign(purpose, *parts), compared in constant time."""
    return hmac.compare_digest(signature.encode(), sign(purpose, *parts).encode())
