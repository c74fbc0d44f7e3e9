"""Access-key JWTs: the data plane's bearer tokens and the WebSocket endpoint's client tokens.

Both are HS256 with the AccessKey string's UTF-8 bytes as the secret (the SDK does not
base64-decode it). A REST token's `aud` is the full request URL the SDK built, query included; a
client token's `aud` is `http(s)://<host>/client/hubs/<hub>`. URLs are compared after
normalising both sides (percent-encoding, query order, default ports, ws/http schemes), since a
proxy or a different URL encoder may spell the same URL differently.

HS256 is checked here with hmac rather than PyJWT: PyJWT 2.15 re-validates the HMAC secret on
every decode (trying to parse it as PEM, SSH and DER keys), which costs a few hundred
microseconds per call, and the data plane checks a token on every send.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.types import Scope

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The ws(s) URL a client dials and the http(s) URL in its token name the same endpoint.
_HTTP_SCHEME = {"ws": "http", "wss": "https"}
_NormalisedUrl = tuple[str, str, int | None, str, tuple[tuple[str, str], ...]]


class TokenError(Exception):
    """A token the hub refuses; the message says why (expired, wrong audience, bad signature)."""


@dataclass(frozen=True, slots=True)
class ClientClaims:
    """What a client access token grants: who the user is, roles, and groups joined on connect."""

    user_id: str | None
    roles: frozenset[str]
    groups: tuple[str, ...]


def endpoint_of(scope: Scope) -> str:
    """The scheme://host[:port] a request or WebSocket handshake was sent to (ws maps to http)."""
    headers = dict(scope["headers"])
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        server_host, server_port = scope["server"]
        host = f"{server_host}:{server_port}"
    return f"{_HTTP_SCHEME.get(scope['scheme'], scope['scheme'])}://{host}"


def url_of(scope: Scope) -> str:
    """The full URL a request was sent to, with the client's own percent-encoding."""
    # raw_path keeps the client's percent-encoding; `path` is already decoded.
    path = (scope.get("raw_path") or scope["path"].encode("utf-8")).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return endpoint_of(scope) + path + (f"?{query}" if query else "")


def _normalise(url: str) -> _NormalisedUrl:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    scheme = _HTTP_SCHEME.get(scheme, scheme)
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError as error:
        raise TokenError(f"The URL {url!r} has an invalid port.") from error
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return scheme, (parts.hostname or "").lower(), port, unquote(parts.path).rstrip("/"), query


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(signing_input: str, access_key: str) -> bytes:
    return hmac.new(
        access_key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256
    ).digest()


def _decode(token: str, access_key: str) -> dict[str, Any]:
    """Verify an HS256 JWT's signature, `exp` and `nbf`; return its claims."""
    segments = token.split(".")
    if len(segments) != 3:
        raise TokenError("The token is not a JWT (header.payload.signature).")
    header_segment, payload_segment, signature_segment = segments
    try:
        header = json.loads(_b64url_decode(header_segment))
        signature = _b64url_decode(signature_segment)
        expected = _signature(f"{header_segment}.{payload_segment}", access_key)
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise TokenError(f"The token is malformed: {error}.") from error
    # Checking alg first rules out "none" and any algorithm-confusion trick.
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenError("The token must be signed with HS256.")
    if not hmac.compare_digest(signature, expected):
        raise TokenError("The token's signature does not match the access key.")
    try:
        claims = json.loads(_b64url_decode(payload_segment))
    except (ValueError, binascii.Error) as error:
        raise TokenError(f"The token's claims are malformed: {error}.") from error
    if not isinstance(claims, dict) or "aud" not in claims:
        raise TokenError("The token has no aud claim.")
    now = time.time()
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise TokenError("The token has no numeric exp claim.")
    if expires <= now:
        raise TokenError("The token has expired.")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and not_before > now:
        raise TokenError("The token is not valid yet (nbf).")
    return claims


def _audiences(claims: dict[str, Any]) -> list[str]:
    audience = claims["aud"]
    values = [audience] if isinstance(audience, str) else audience
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise TokenError("The token's aud claim must be a string or a list of strings.")
    return values


def _strings(claims: dict[str, Any], name: str) -> list[str]:
    value = claims.get(name, [])
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise TokenError(f"The token's {name!r} claim must be a string or a list of strings.")
    return values


def verify_service_token(authorization: str | None, access_key: str, request_url: str) -> None:
    """Check a data-plane call's `Authorization: Bearer` token; raise TokenError if refused."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("Send Authorization: Bearer <JWT signed with the access key>.")
    claims = _decode(token.strip(), access_key)
    audiences = _audiences(claims)
    # The SDK's aud is normally the very URL string it sent: skip normalising then.
    if request_url in audiences:
        return
    expected = _normalise(request_url)
    if not any(_normalise(audience) == expected for audience in audiences):
        raise TokenError(f"The token's aud {audiences!r} is not the request URL {request_url!r}.")


def verify_client_token(
    token: str | None, access_key: str, *, endpoint: str, hub: str
) -> ClientClaims:
    """Check a client access token for `hub` on `endpoint` (scheme://host[:port]).

    The scheme is not compared: the token says http(s) while the client dials ws(s), and a
    TLS-terminating proxy may change either. Hub names are case-insensitive in the service.
    """
    if not token:
        raise TokenError("Connect with ?access_token=<client token>.")
    claims = _decode(token, access_key)
    _, host, port, path, _ = _normalise(f"{endpoint}/client/hubs/{hub}")
    expected = (host, port, path.lower())
    audiences = _audiences(claims)
    for audience in audiences:
        _, aud_host, aud_port, aud_path, _ = _normalise(audience)
        if (aud_host, aud_port, aud_path.lower()) == expected:
            break
    else:
        raise TokenError(f"The token's aud {audiences!r} is not {endpoint}/client/hubs/{hub}.")
    user_id = claims.get("sub")
    if user_id is not None and not isinstance(user_id, str):
        raise TokenError("The token's sub claim must be a string.")
    return ClientClaims(
        user_id=user_id,
        roles=frozenset(_strings(claims, "role")),
        groups=tuple(_strings(claims, "webpubsub.group")),
    )


def issue_client_token(
    access_key: str,
    *,
    audience: str,
    user_id: str | None,
    roles: Iterable[str],
    groups: Iterable[str],
    minutes_to_expire: int,
) -> str:
    """Mint a client access token with the claims `get_client_access_token` puts in one."""
    now = int(time.time())
    claims: dict[str, Any] = {"aud": audience, "iat": now, "exp": now + 60 * minutes_to_expire}
    if user_id:
        claims["sub"] = user_id
    if role_list := list(roles):
        claims["role"] = role_list
    if group_list := list(groups):
        claims["webpubsub.group"] = group_list
    header = _b64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url_encode(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{_b64url_encode(_signature(signing_input, access_key))}"
