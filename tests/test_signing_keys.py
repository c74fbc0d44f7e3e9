"""The identity provider's signing keys as the API keeps them: refetches for unknown kids,
back-off while the provider is down, the stale limit, and which keys may verify."""

from __future__ import annotations

import json

import pytest

from devhost.identity import DevIdentity
from shared.signing_keys import (
    MAX_RETRY_S,
    REFETCH_AFTER_S,
    STALE_LIMIT_S,
    KeysUnavailable,
    SigningKeys,
    UnknownKey,
)
from tests.conftest import AUDIENCE, ISSUER
from tests.test_auth import RawProvider

SIGNER = DevIdentity(issuer=ISSUER, audience=AUDIENCE)


class FakeClock:
    """A monotonic clock the test moves by hand (SigningKeys takes one as `clock`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _key_set(use: str = "sig") -> bytes:
    jwks = SIGNER.jwks()
    for key in jwks["keys"]:
        key["use"] = use
    return json.dumps(jwks).encode()


def test_kept_signing_keys_stop_verifying_a_day_after_the_last_good_fetch() -> None:
    """Kept keys verify through a provider outage for up to a day after the last good fetch, and
    not after: withdrawn keys must not verify forever."""
    kid = SIGNER.kid
    provider = RawProvider(_key_set(), "application/json")
    clock = FakeClock()
    keys = SigningKeys(provider.url, clock=clock)
    try:
        assert keys.key(kid, 300.0).key_id == kid
        provider.status, provider.body = 500, b'{"error": "server_error"}'
        clock.now += STALE_LIMIT_S - 60
        assert keys.key(kid, 300.0).key_id == kid  # the kept set still serves
        clock.now += 120  # past a day since the last good fetch, and past the back-off
        with pytest.raises(KeysUnavailable):
            keys.key(kid, 300.0)
    finally:
        provider.close()


def test_a_provider_down_for_minutes_is_asked_again_at_least_once_a_minute() -> None:
    """The back-off after failed fetches doubles from 5 s but is capped at a minute, so sign-ins
    work again within a minute of the provider's return."""
    kid = SIGNER.kid
    provider = RawProvider(b'{"error": "server_error"}', "application/json", status=500)
    clock = FakeClock()
    keys = SigningKeys(provider.url, clock=clock)
    try:
        for wait in (0, 5, 10, 20, 40):  # each attempt fails; the next waits twice as long
            clock.now += wait
            with pytest.raises(KeysUnavailable):
                keys.key(kid, 300.0)
        assert provider.hits == 5
        provider.status, provider.body = 200, _key_set()
        clock.now += MAX_RETRY_S  # the back-off is capped at a minute
        assert keys.key(kid, 300.0).key_id == kid
        assert provider.hits == 6
    finally:
        provider.close()


def test_a_key_set_holding_only_encryption_keys_is_no_key_set() -> None:
    """A key the provider publishes for encryption (`use: enc`) never verifies a signature."""
    kid = SIGNER.kid
    provider = RawProvider(_key_set(use="enc"), "application/json")
    try:
        with pytest.raises(KeysUnavailable):
            SigningKeys(provider.url, clock=FakeClock()).key(kid, 300.0)
    finally:
        provider.close()


def test_an_unknown_kid_refetches_the_key_set_at_most_every_thirty_seconds() -> None:
    """An unknown kid refetches the key set at most every 30 s: a flood of made-up kids costs the
    provider one request."""
    provider = RawProvider(_key_set(), "application/json")
    clock = FakeClock()
    keys = SigningKeys(provider.url, clock=clock)
    try:
        assert keys.key(SIGNER.kid, 300.0).key_id == SIGNER.kid
        for _ in range(5):
            with pytest.raises(UnknownKey):
                keys.key("made-up-kid", 300.0)
        assert provider.hits == 1
        clock.now += REFETCH_AFTER_S  # a key rotated in since is looked for once
        with pytest.raises(UnknownKey):
            keys.key("made-up-kid", 300.0)
        assert provider.hits == 2
    finally:
        provider.close()
