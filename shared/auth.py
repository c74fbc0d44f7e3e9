"""Bearer JWT validation against the identity provider's JWKS, and role/tenant checks."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import jwt
from pydantic import BaseModel, ConfigDict

from shared import errors
from shared.config import get_settings
from shared.signing_keys import KeysUnavailable, SigningKeys, UnknownKey

# Pinned: never let the token choose HS256 (a public key would become an HMAC secret) or none.
ALGORITHMS = ["RS256", "ES256"]
ROLES = ("platform_admin", "owner", "manager", "staff")
JWKS_CACHE_S = 300


class Principal(BaseModel):
    """Who is calling: the token's subject, roles and tenant slug (None for platform admins)."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[str]
    tenant: str | None = None
    email: str | None = None


# Clock skew allowed between us and the identity provider for exp, nbf and iat.
LEEWAY_S = 60


@functools.cache
def _signing_keys(url: str) -> SigningKeys:
    # Fresh for JWKS_CACHE_S, so a key the provider withdrew stops verifying within that time;
    # the last good set outlives a failed refresh (shared/signing_keys.py).
    return SigningKeys(url)


def bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.unauthorized("Send Authorization: Bearer <token>")
    return token.strip()


def validate_token(token: str) -> Principal:
    """Verify signature, issuer, audience and expiry; 401 with the reason otherwise."""
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise errors.unauthorized(f"Token algorithm must be one of {', '.join(ALGORITHMS)}")
        key = _signing_keys(settings.auth_jwks_url).key(header.get("kid"), JWKS_CACHE_S)
        if header["alg"] != key.algorithm_name:
            # An ES256 header naming an RSA key's kid: refuse it here, where PyJWT would fail
            # with a TypeError (the key is not of the algorithm's kind) rather than a token error.
            raise errors.unauthorized("Token algorithm does not match its signing key")
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            audience=settings.auth_audience,
            issuer=settings.auth_issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise errors.unauthorized("Token has expired") from None
    except KeysUnavailable:
        raise errors.service_unavailable(
            "The identity provider's keys are unreachable or unusable", 5
        ) from None
    except UnknownKey:
        raise errors.unauthorized("Token is signed with an unknown key") from None
    except jwt.InvalidSignatureError:
        raise errors.unauthorized("Invalid token: Signature verification failed") from None
    except jwt.DecodeError as error:
        # Not a JWT at all: most often an order's access token sent where a staff token goes.
        raise errors.unauthorized(
            f"Invalid token: {error}. Staff calls need a token from the identity provider (an"
            " order's access token opens only that order)"
        ) from None
    except jwt.InvalidTokenError as error:
        raise errors.unauthorized(f"Invalid token: {error}") from None
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = [roles]
    elif not isinstance(roles, list):
        # A number, true or an object from a misconfigured provider grants nothing (an object's
        # keys must not read as roles).
        roles = []
    tenant = claims.get("tenant")
    return Principal(
        subject=str(claims["sub"]),
        roles=frozenset(r for r in roles if isinstance(r, str)),
        tenant=tenant if isinstance(tenant, str) else None,
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
    )


def authorize(principal: Principal, roles: Iterable[str], tenant_slug: str | None) -> Principal:
    """403 unless principal has one of roles and, for tenant calls, the same tenant."""
    allowed = set(roles)
    if not principal.roles & allowed:
        raise errors.forbidden(f"This call needs one of the roles: {', '.join(sorted(allowed))}")
    if tenant_slug is not None and principal.tenant is None:
        raise errors.forbidden("The token names no restaurant (it has no `tenant` claim)")
    if tenant_slug is not None and principal.tenant != tenant_slug:
        raise errors.forbidden("The token is for a different restaurant than this host")
    return principal


def authenticate(
    headers: Mapping[str, str], roles: Iterable[str], tenant_slug: str | None = None
) -> Principal:
    """The caller's principal from the Authorization header, checked for roles and tenant."""
    return authorize(validate_token(bearer_token(headers)), roles, tenant_slug)
