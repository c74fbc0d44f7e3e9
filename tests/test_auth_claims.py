"""The claims of a staff token as the admin API reads them: scheme, expiry, roles, restaurant."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.conftest import AUDIENCE, IDENTITY, ISSUER
from tests.storefront_helpers import rejecting_api_fixture  # noqa: F401 (fixture)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_bearer_scheme_is_case_insensitive(rejecting_api) -> None:
    """RFC 7235: the scheme is case-insensitive."""
    token = IDENTITY.mint(role="owner", tenant=rejecting_api.tenant.slug)
    for scheme in ("bearer", "BEARER"):
        response = rejecting_api.get(
            "/v1/admin/settings", headers={"Authorization": f"{scheme} {token}"}
        )
        assert response.status_code == 200, (scheme, response.text)


def test_a_token_without_an_expiry_is_refused(rejecting_api) -> None:
    """A validly signed token without `exp` would be good for ever."""
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": int(time.time()),
              "roles": ["owner"], "tenant": rejecting_api.tenant.slug}  # fmt: skip
    token = jwt.encode(
        claims, IDENTITY.private_key, algorithm="RS256", headers={"kid": IDENTITY.kid}
    )
    response = rejecting_api.get("/v1/admin/settings", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert "exp" in response.json()["detail"]


def test_a_roles_claim_of_one_string_is_that_role(rejecting_api) -> None:
    """`"roles": "owner"` is the owner role, not the roles o, w, n, e, r."""
    token = IDENTITY.mint(role="owner", tenant=rejecting_api.tenant.slug, roles="owner")
    assert rejecting_api.get("/v1/admin/settings", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("roles", [{"owner": False, "manager": False}, 5, True])
def test_a_roles_claim_that_is_an_object_or_a_scalar_grants_nothing(rejecting_api, roles) -> None:
    """An object's keys are not roles, and a number or a boolean is none: a valid token that
    grants no role is a 403, not a 401 asking for another token."""
    token = IDENTITY.mint(role="owner", tenant=rejecting_api.tenant.slug, roles=roles)
    response = rejecting_api.get("/v1/admin/settings", headers=bearer(token))
    assert response.status_code == 403, response.text


def test_non_string_roles_are_ignored_not_a_500(rejecting_api) -> None:
    """A number among the roles is ignored."""
    token = IDENTITY.mint(role="owner", tenant=rejecting_api.tenant.slug, roles=[7, "owner"])
    assert rejecting_api.get("/v1/admin/settings", headers=bearer(token)).status_code == 200
    only_numbers = IDENTITY.mint(role="owner", tenant=rejecting_api.tenant.slug, roles=[7])
    assert rejecting_api.get("/v1/admin/settings", headers=bearer(only_numbers)).status_code == 403


def test_an_owner_token_without_a_tenant_claim_is_refused_on_a_restaurant(rejecting_api) -> None:
    """An owner token naming no restaurant opens none, and is told it names none."""
    token = IDENTITY.mint(role="owner")  # no tenant claim
    response = rejecting_api.get("/v1/admin/settings", headers=bearer(token))
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == "The token names no restaurant (it has no `tenant` claim)"
