"""The identity provider's signing keys (its JWKS), fetched and kept the way a validator must.

- Fresh for `lifespan_s`: then fetched again, so a key the provider withdraws stops verifying.
- A refresh that fails keeps the last good set (for up to `stale_limit_s`), as
  Microsoft.IdentityModel's ConfigurationManager does: a blip at the provider must not lock
  every kitchen and admin out while their tokens are valid and the keys known.
- A failed fetch is not repeated by every request: the next try waits (5 s, doubling up to
  60 s), and meanwhile callers get the stale set or, with none, `KeysUnavailable` at once.
- An answer that is not a usable key set (an HTML error page, `{"keys": []}`, a JSON array) is
  a failed fetch like a refused connection, never the caller's fault.
- A kid the set does not hold triggers one refetch at most every `refetch_after_s` (keys are
  rotated in at the provider before tokens use them), never one per request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable

import jwt

log = logging.getLogger("stelly.auth")

FIRST_RETRY_S = 5.0
MAX_RETRY_S = 60.0
REFETCH_AFTER_S = 30.0
STALE_LIMIT_S = 24 * 3600.0


class KeysUnavailable(Exception):
    """No usable key set: the provider cannot be reached or answers nonsense, and none is kept."""


class UnknownKey(Exception):
    """The token names a kid the provider's key set does not hold."""


class SigningKeys:
    """One JWKS URL's keys by kid; thread-safe, one fetch at a time."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._timeout = timeout_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = 0.0
        self._retry_at = 0.0
        self._retry_s = FIRST_RETRY_S
        self._lock = threading.Lock()

    def key(self, kid: object, lifespan_s: float) -> jwt.PyJWK:
        """The signing key named kid; KeysUnavailable or UnknownKey otherwise."""
        keys = self._current(lifespan_s)
        if isinstance(kid, str) and kid in keys:
            return keys[kid]
        if self._clock() - self._fetched_at >= REFETCH_AFTER_S:
            # A key rotated in since the last fetch: wait for a fetch another caller may have
            # started, rather than refuse a valid token with the old set.
            keys = self._current(0.0, wait=True)
            if isinstance(kid, str) and kid in keys:
                return keys[kid]
        raise UnknownKey(kid)

    def _current(self, lifespan_s: float, *, wait: bool = False) -> dict[str, jwt.PyJWK]:
        now = self._clock()
        keys = self._keys
        if keys is not None and now - self._fetched_at < lifespan_s:
            return keys
        if now < self._retry_at or not self._lock.acquire(blocking=wait or keys is None):
            # Backing off after a failure, or another thread is fetching: what we have.
            return self._stale(now)
        try:
            if self._keys is not keys and self._keys is not None:
                return self._keys  # another thread fetched while this one waited
            if self._clock() < self._retry_at:
                return self._stale(now)  # ... or failed to: back off as it does
            return self._fetch(now)
        finally:
            self._lock.release()

    def _fetch(self, now: float) -> dict[str, jwt.PyJWK]:
        try:
            keys = _signing_keys(self._download())
        # Whatever the provider's answer did (refused, cut off mid-body, not HTTP, not JSON, no
        # usable key), it is the provider's failure, never the caller's: keep what we have.
        except Exception as error:
            self._retry_at = now + self._retry_s
            self._retry_s = min(self._retry_s * 2, MAX_RETRY_S)
            log.warning("identity provider keys not refreshed (%s): %s", self._url, error)
            return self._stale(now)
        self._keys, self._fetched_at = keys, now
        self._retry_at, self._retry_s = 0.0, FIRST_RETRY_S
        return keys

    def _download(self) -> object:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            return json.load(response)

    def _stale(self, now: float) -> dict[str, jwt.PyJWK]:
        if self._keys is not None and now - self._fetched_at < STALE_LIMIT_S:
            return self._keys
        raise KeysUnavailable(f"no usable signing keys from {self._url}")


def _signing_keys(document: object) -> dict[str, jwt.PyJWK]:
    """The set's signing keys by kid (as PyJWKClient selects them); ValueError if none."""
    if not isinstance(document, dict):
        raise ValueError("the JWKS is not a JSON object")
    keys = {
        key.key_id: key
        for key in jwt.PyJWKSet.from_dict(document).keys
        if key.public_key_use in ("sig", None) and key.key_id
    }
    if not keys:
        raise ValueError("the JWKS holds no signing keys with a kid")
    return keys
