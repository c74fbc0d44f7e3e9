"""Dev identity: a local RSA signing key, its JWKS, and tokens for the demo users.

Tests and devhost share this so tokens go through the real validation path (PyJWKClient fetching
the JWKS over HTTP). Nothing here runs in Azure, where Entra ID issues the tokens.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

JWKS_PATH = "/.well-known/jwks.json"


class DevIdentity:
    """An RSA key (kept in key_path when given) that signs RS256 tokens and publishes a JWKS."""

    def __init__(self, *, issuer: str, audience: str, key_path: Path | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.private_key = _load_or_create_key(key_path)
        public_der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = uuid.uuid5(uuid.NAMESPACE_OID, public_der.hex()).hex[:16]

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def mint(
        self,
        *,
        role: str,
        tenant: str | None = None,
        subject: str | None = None,
        ttl_s: int = 8 * 3600,
        **claims: Any,
    ) -> str:
        """A signed token with `roles: [role]` and, for restaurant staff, the `tenant` claim."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject or f"dev-{role}{'-' + tenant if tenant else ''}",
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl_s,
            "roles": [role],
        }
        if tenant:
            payload["tenant"] = tenant
        payload.update(claims)
        return jwt.encode(payload, self.private_key, algorithm="RS256", headers={"kid": self.kid})


def _load_or_create_key(path: Path | None) -> RSAPrivateKey:
    if path is not None and path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, RSAPrivateKey)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return key


class JwksServer:
    """Serves one JWKS document over loopback HTTP from a background thread (tests)."""

    def __init__(self, jwks: dict[str, Any], port: int = 0) -> None:
        self.serve(jwks)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                body = server._body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{JWKS_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def serve(self, jwks: dict[str, Any]) -> None:
        """Serve this document from now on (a provider rotating or withdrawing keys)."""
        self._body = json.dumps(jwks).encode()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
