"""Auth: tokens validated through a real JWKS over HTTP, roles and tenant; a failing provider."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devhost.identity import JWKS_PATH, DevIdentity, JwksServer
from shared import auth
from shared.config import get_settings
from tests.conftest import AUDIENCE, ISSUER


@pytest.fixture
def tenant(tenants):
    return tenants.create()


def call(edge_client, tenant, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return edge_client.get("/api/v1/edge/admin", host=f"{tenant.slug}.stelly.test", headers=headers)


def test_valid_owner_token_for_this_tenant(edge_client, tenant, identity) -> None:
    response = call(edge_client, tenant, identity.mint(role="owner", tenant=tenant.slug))
    assert response.status_code == 200
    assert response.json()["tenant"] == tenant.slug


def _assert_401(response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.content_type == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert reason.lower() in response.json()["detail"].lower()


def test_missing_token(edge_client, tenant) -> None:
    _assert_401(call(edge_client, tenant, None), "Authorization: Bearer")


def test_expired_token(edge_client, tenant, identity) -> None:
    token = identity.mint(role="owner", tenant=tenant.slug, exp=int(time.time()) - 120)
    _assert_401(call(edge_client, tenant, token), "expired")


def test_a_provider_clock_a_little_ahead_is_tolerated(edge_client, tenant, identity) -> None:
    ahead = int(time.time()) + 30  # iat and nbf in our future, within LEEWAY_S
    token = identity.mint(role="owner", tenant=tenant.slug, iat=ahead, nbf=ahead)
    assert call(edge_client, tenant, token).status_code == 200


def test_wrong_audience(edge_client, tenant, identity) -> None:
    token = identity.mint(role="owner", tenant=tenant.slug, aud="api://someone-else")
    _assert_401(call(edge_client, tenant, token), "audience")


def test_wrong_issuer(edge_client, tenant, identity) -> None:
    token = identity.mint(role="owner", tenant=tenant.slug, iss="https://evil.example/")
    _assert_401(call(edge_client, tenant, token), "issuer")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(edge_client, tenant, identity) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 600,
              "roles": ["owner"], "tenant": tenant.slug}  # fmt: skip
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': identity.kid})}.{_b64(claims)}."
    _assert_401(call(edge_client, tenant, token), "algorithm")


def test_hs256_signed_with_the_public_key_is_refused(edge_client, tenant, identity) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 600,
              "roles": ["owner"], "tenant": tenant.slug}  # fmt: skip
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": identity.kid})
    body = _b64(claims)
    import hashlib
    import hmac

    mac = hmac.new(identity.public_pem(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    _assert_401(call(edge_client, tenant, token), "algorithm")


def test_an_algorithm_that_is_not_its_keys_is_refused(edge_client, tenant, identity) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 600,
              "roles": ["owner"], "tenant": tenant.slug}  # fmt: skip
    header = _b64({"alg": "ES256", "typ": "JWT", "kid": identity.kid})  # an RSA key's kid
    signature = base64.urlsafe_b64encode(b"\0" * 64).rstrip(b"=").decode()
    _assert_401(call(edge_client, tenant, f"{header}.{_b64(claims)}.{signature}"), "algorithm")


def test_a_key_the_provider_withdraws_stops_verifying(
    edge_client, tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    withdrawn, kept = (DevIdentity(issuer=ISSUER, audience=AUDIENCE) for _ in range(2))
    provider = JwksServer({"keys": withdrawn.jwks()["keys"] + kept.jwks()["keys"]})
    monkeypatch.setenv("AUTH_JWKS_URL", provider.url)
    monkeypatch.setattr(auth, "JWKS_CACHE_S", 0.2)
    get_settings.cache_clear()
    try:
        token = withdrawn.mint(role="owner", tenant=tenant.slug)
        assert call(edge_client, tenant, token).status_code == 200
        provider.serve(kept.jwks())
        time.sleep(0.3)  # the cached key set expires
        _assert_401(call(edge_client, tenant, token), "unknown key")
        assert (
            call(edge_client, tenant, kept.mint(role="owner", tenant=tenant.slug)).status_code
            == 200
        )
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        provider.close()


def test_unknown_kid_is_refused(edge_client, tenant) -> None:
    stranger = DevIdentity(issuer=ISSUER, audience=AUDIENCE)
    _assert_401(call(edge_client, tenant, stranger.mint(role="owner", tenant=tenant.slug)), "key")


def test_forged_signature_with_a_known_kid(edge_client, tenant, identity) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 600,
              "roles": ["owner"], "tenant": tenant.slug}  # fmt: skip
    token = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": identity.kid})
    forged = call(edge_client, tenant, token)
    _assert_401(forged, "signature")
    assert "access token" not in forged.json()["detail"]  # a JWT, only not ours


def test_missing_role_is_forbidden(edge_client, tenant, identity) -> None:
    response = call(edge_client, tenant, identity.mint(role="staff", tenant=tenant.slug))
    assert response.status_code == 403
    assert "owner" in response.json()["detail"]


def test_token_of_another_tenant_is_forbidden(edge_client, tenants, identity) -> None:
    mine, theirs = tenants.create(), tenants.create()
    response = call(edge_client, mine, identity.mint(role="owner", tenant=theirs.slug))
    assert response.status_code == 403
    assert "different restaurant" in response.json()["detail"]


def test_platform_admin_only_on_the_platform_host(edge_client, tenants, identity) -> None:
    token = {"Authorization": f"Bearer {identity.mint(role='platform_admin')}"}
    assert (
        edge_client.get("/api/v1/edge/platform", host="stelly.test", headers=token).status_code
        == 200
    )
    tenant = tenants.create()
    via_tenant = edge_client.get(
        "/api/v1/edge/platform", host=f"{tenant.slug}.stelly.test", headers=token
    )
    assert via_tenant.status_code == 404
    owner = {"Authorization": f"Bearer {identity.mint(role='owner', tenant=tenant.slug)}"}
    assert (
        edge_client.get("/api/v1/edge/platform", host="stelly.test", headers=owner).status_code
        == 403
    )


# RFC 6750 §3: error_description is a quoted-string of %x20-21 / %x23-5B / %x5D-7E only.
CHALLENGE = re.compile(
    r'Bearer error="invalid_token"(, error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*")?'
)


@pytest.mark.parametrize(
    "extension",
    ["x\nSet-Cookie: a=b", 'x", error="insufficient_scope', "caf\u00e9"],
    ids=["line-break", "double-quote", "non-ascii"],
)
def test_an_unverified_token_header_cannot_shape_the_challenge(
    edge_client, tenant, identity, extension: str
) -> None:
    # PyJWT refuses an unknown `crit` extension before any signature is checked, quoting it:
    # anyone could put a line break (a 500), a quote (extra parameters) or non-ASCII (which the
    # host's Kestrel refuses) into WWW-Authenticate.
    header = {"alg": "RS256", "typ": "JWT", "kid": identity.kid, "crit": [extension]}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 600}
    token = f"{_b64(header)}.{_b64(claims)}.{_b64({'not': 'a signature'})}"
    response = call(edge_client, tenant, token)
    _assert_401(response, "critical extension")
    assert CHALLENGE.fullmatch(response.headers["www-authenticate"])


class RawProvider:
    """A JWKS URL answering with whatever status, bytes and content type it is given, each
    answer `delay_s` late (a provider under load); `hits` counts the requests it received."""

    def __init__(self, body: bytes, content_type: str, status: int = 200) -> None:
        provider = self
        self.body, self.content_type, self.status = body, content_type, status
        self.hits, self.delay_s = 0, 0.0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits += 1
                time.sleep(provider.delay_s)
                self.send_response(provider.status)
                self.send_header("Content-Type", provider.content_type)
                self.send_header("Content-Length", str(len(provider.body)))
                self.end_headers()
                self.wfile.write(provider.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{JWKS_PATH}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def use_jwks_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(url: str) -> None:
        monkeypatch.setenv("AUTH_JWKS_URL", url)
        get_settings.cache_clear()

    yield use
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>Service temporarily unavailable</body></html>", "text/html"),
        (b'{"keys": []}', "application/json"),
        (b'{"issuer": "https://login.test.stelly/"}', "application/json"),
        (b"[]", "application/json"),
    ],
    ids=["html-error-page", "empty-key-set", "not-a-key-set", "json-array"],
)
def test_a_provider_answering_something_other_than_a_key_set_is_503(
    edge_client, tenant, use_jwks_url, body: bytes, content_type: str
) -> None:
    # Not a key set is the provider's failure, as a refused connection is: 503, never a 500 or
    # a 401 blaming the caller's token.
    signer = DevIdentity(issuer=ISSUER, audience=AUDIENCE)
    provider = RawProvider(body, content_type)
    use_jwks_url(provider.url)
    try:
        response = call(edge_client, tenant, signer.mint(role="owner", tenant=tenant.slug))
    finally:
        provider.close()
    assert response.status_code == 503, response.text
    assert response.content_type == "application/problem+json"
    assert response.headers.get("retry-after")


def test_cached_keys_keep_verifying_while_the_provider_is_unreachable(
    edge_client, tenant, use_jwks_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last good key set outlives a failed refresh, as Microsoft.IdentityModel keeps it.
    signer = DevIdentity(issuer=ISSUER, audience=AUDIENCE)
    provider = JwksServer(signer.jwks())
    monkeypatch.setattr(auth, "JWKS_CACHE_S", 0.2)
    use_jwks_url(provider.url)
    token = signer.mint(role="owner", tenant=tenant.slug)
    try:
        assert call(edge_client, tenant, token).status_code == 200
    finally:
        provider.close()  # the provider goes down (connection refused from now on)
    time.sleep(0.3)  # the cached key set ages out
    response = call(edge_client, tenant, token)
    assert response.status_code == 200, response.text


def test_a_failing_provider_is_not_asked_again_by_every_request(
    edge_client, tenant, use_jwks_url
) -> None:
    # A failed fetch backs off: an outage at the provider is not met with one key-set request
    # per API call from every instance.
    signer = DevIdentity(issuer=ISSUER, audience=AUDIENCE)
    provider = RawProvider(b'{"error": "server_error"}', "application/json", status=500)
    use_jwks_url(provider.url)
    token = signer.mint(role="owner", tenant=tenant.slug)
    try:
        statuses = [call(edge_client, tenant, token).status_code for _ in range(10)]
    finally:
        provider.close()
    assert statuses == [503] * 10
    assert provider.hits <= 2, f"the provider was asked {provider.hits} times for 10 calls"


class CuttingProvider:
    """A JWKS URL on a raw socket: answers `good` (a key set) in full while `cut` is False;
    then announces the whole key set but closes the connection half-way through its body (a
    provider or proxy restarting mid-answer)."""

    def __init__(self, good: dict[str, Any]) -> None:
        self.body = json.dumps(good).encode()
        self.cut = False
        self.hits = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}{JWKS_PATH}"
        self._stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.hits += 1
                head = (
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(self.body)).encode() + b"\r\n"
                    b"Connection: close\r\n\r\n"
                )
                conn.sendall(head + (self.body[: len(self.body) // 2] if self.cut else self.body))

    def close(self) -> None:
        self._stopped = True
        self._server.close()


def test_a_key_set_cut_off_mid_answer_is_a_503_not_a_500(edge_client, tenant, use_jwks_url) -> None:
    # Cut short (http.client.IncompleteRead, no OSError) it is the provider's failure too.
    signer = DevIdentity(issuer=ISSUER, audience=AUDIENCE)
    provider = CuttingProvider(signer.jwks())
    provider.cut = True
    use_jwks_url(provider.url)
    try:
        response = call(edge_client, tenant, signer.mint(role="owner", tenant=tenant.slug))
    finally:
        provider.close()
    assert response.status_code == 503, response.text
    assert response.headers.get("retry-after")


def test_cached_keys_outlive_a_refresh_that_is_cut_off_mid_answer(
    edge_client, tenant, use_jwks_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last good key set is kept for exactly such a blip, and the failed fetch backs off.
    signer = DevIdentity(issuer=ISSUER, audience=AUDIENCE)
    provider = CuttingProvider(signer.jwks())
    monkeypatch.setattr(auth, "JWKS_CACHE_S", 0.2)
    use_jwks_url(provider.url)
    token = signer.mint(role="owner", tenant=tenant.slug)
    try:
        assert call(edge_client, tenant, token).status_code == 200
        provider.cut = True
        time.sleep(0.3)  # the cached key set ages out; its refresh is cut off
        statuses = [call(edge_client, tenant, token).status_code for _ in range(5)]
    finally:
        provider.close()
    assert statuses == [200] * 5, statuses
    assert provider.hits <= 2, f"the provider was asked {provider.hits} times for 6 calls"


def test_a_rotated_key_verifies_for_every_caller_while_one_of_them_fetches_it(
    edge_client, tenant, use_jwks_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A caller with a newly rotated kid waits for the fetch another caller started, rather than
    # refusing a valid token with the old set.
    from shared import signing_keys

    old, new = (DevIdentity(issuer=ISSUER, audience=AUDIENCE) for _ in range(2))
    provider = RawProvider(json.dumps(old.jwks()).encode(), "application/json")
    monkeypatch.setattr(signing_keys, "REFETCH_AFTER_S", 0.0)  # as 30 s after the last fetch
    use_jwks_url(provider.url)
    try:
        first_token = old.mint(role="owner", tenant=tenant.slug)
        assert call(edge_client, tenant, first_token).status_code == 200
        # The provider rotates the new key in; two kitchen tablets then call with new tokens.
        provider.body = json.dumps({"keys": old.jwks()["keys"] + new.jwks()["keys"]}).encode()
        provider.delay_s = 0.8
        statuses: list[int] = []
        tokens = [new.mint(role="owner", tenant=tenant.slug) for _ in range(2)]

        def one(token: str) -> None:
            statuses.append(call(edge_client, tenant, token).status_code)

        first = threading.Thread(target=one, args=(tokens[0],))
        first.start()
        time.sleep(0.3)  # the first call is fetching the new key set now
        one(tokens[1])
        first.join(10)
    finally:
        provider.close()
    assert sorted(statuses) == [200, 200], statuses
