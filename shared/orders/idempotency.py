"""Idempotency keys with Stripe's semantics, kept per tenant in the database.

- First request with a key: the key row is inserted (claimed) in a short transaction that
  commits before the order is written, so concurrent requests on any instance see it (a
  duplicate arriving during those milliseconds waits for it on the key's unique index).
- Same key, same body, answer stored → that stored status and body, for 24 hours.
- Same key, different body → 422. Same key while the first is in flight → 409.
- Only a completed order is stored. A request rejected before placing (validation, closed store,
  rate limit) releases its key, so the client can fix the request and retry with the same key.
- A claim abandoned by a crashed worker can be taken over after IN_FLIGHT_TAKEOVER_S; completing
  checks the claim token in the order's own transaction, so a taken-over request rolls back
  instead of creating a second order.
- A release the database refused (it was down: the reason the request failed) is tried again
  in the background until it works, so the customer's retry finds the key free within a
  second or two of the database's return, not after the takeover's minute.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from shared import errors
from shared.db import tenant_transaction
from shared.log_redaction import error_text

logger = logging.getLogger("stelly.orders")

KEY_TTL_HOURS = 24
IN_FLIGHT_TAKEOVER_S = 60
IN_FLIGHT_RETRY_AFTER_S = 1
# At least 16 characters: a replay hands out the order's access token again (the retry after a
# lost answer needs it), so a short key ("1", "k1") and a copied body (a dine-in table's code is
# on the table) would let someone else read and cancel the order. A UUID is 36.
_KEY = re.compile(r"^[\x21-\x7e]{16,255}$")


@dataclass(frozen=True)
class Claim:
    """This request owns the key until it completes or releases it."""

    key: str
    token: uuid.UUID


@dataclass(frozen=True)
class StoredResponse:
    """The first request's answer, to be returned unchanged."""

    status: int
    body: dict[str, Any]


def check_key(raw: str | None) -> str | None:
    """The header's key, None when absent; 400 unless 16-255 visible ASCII characters.

    An empty header is a key gone missing (a client variable left empty), not "no key": taken
    as absent, every retry would place another order.
    """
    if raw is None:
        return None
    if not _KEY.fullmatch(raw):
        raise errors.bad_request(
            "Idempotency-Key must be 16-255 visible ASCII characters (a UUID is a good choice):"
            " a replay answers with the order's access token, so a key must not be guessable"
        )
    return raw


def request_fingerprint(document: Any) -> str:
    """A hash of the request's meaning: key order and whitespace do not matter."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_key(conn: psycopg.Connection, key: str, fingerprint: str) -> Claim | StoredResponse:
    """Claim key for this request, or return the stored answer; 422 / 409 as documented."""
    token = uuid.uuid4()
    for _ in range(3):
        claimed = conn.execute(
            """insert into idempotency_keys as k (key, request_hash, claim, expires_at)
               values (%(key)s, %(hash)s, %(claim)s,
                       now() + make_interval(hours => %(ttl)s))
               on conflict (key) do update set
                   request_hash = excluded.request_hash, claim = excluded.claim,
                   claimed_at = now(), response_status = null, response_body = null,
                   expires_at = excluded.expires_at
               where k.expires_at <= now()
                  or (k.response_status is null
                      and k.claimed_at < now() - make_interval(secs => %(takeover)s))
               returning key""",
            {
                "key": key,
                "hash": fingerprint,
                "claim": token,
                "ttl": KEY_TTL_HOURS,
                "takeover": IN_FLIGHT_TAKEOVER_S,
            },
        ).fetchone()
        if claimed is not None:
            return Claim(key, token)
        row = conn.execute(
            "select request_hash, response_status, response_body from idempotency_keys"
            " where key = %s",
            [key],
        ).fetchone()
        if row is None:
            continue  # released by its owner between our two statements: claim again
        if row["request_hash"] != fingerprint:
            raise errors.invalid_field(
                "Idempotency-Key",
                "was already used with a different request body; use a new key for a new order",
            )
        if row["response_status"] is None:
            break
        return StoredResponse(int(row["response_status"]), row["response_body"])
    problem = errors.conflict(
        "A request with this Idempotency-Key is still being processed; retry shortly"
    )
    problem.headers["Retry-After"] = str(IN_FLIGHT_RETRY_AFTER_S)
    raise problem


def store_response(
    conn: psycopg.Connection, claim: Claim, status: int, body: dict[str, Any]
) -> psycopg.Cursor:
    """Store the answer in the caller's transaction; check `rowcount == 1` after it runs."""
    return conn.execute(
        """update idempotency_keys set response_status = %s, response_body = %s, claim = null
           where key = %s and claim = %s""",
        [status, Jsonb(body), claim.key, claim.token],
    )


def lost_claim() -> errors.ProblemError:
    """The problem when another request took this key over while we worked."""
    problem = errors.conflict(
        "This request took too long and its Idempotency-Key was taken over by a retry"
    )
    problem.headers["Retry-After"] = str(IN_FLIGHT_RETRY_AFTER_S)
    return problem


def drop_claim(conn: psycopg.Connection, claim: Claim) -> None:
    """Forget an unfinished claim in the caller's transaction."""
    conn.execute(
        "delete from idempotency_keys where key = %s and claim = %s", [claim.key, claim.token]
    )


def release_key(schema: str, claim: Claim) -> None:
    """Forget an unfinished claim so the client may retry with the same key."""
    with tenant_transaction(schema) as conn:
        drop_claim(conn, claim)


class LateReleases:
    """Claims whose release failed, tried again every RETRY_S by one background thread until
    they are released or the takeover would have freed them anyway."""

    RETRY_S = 0.5

    def __init__(self) -> None:
        self._waiting: list[tuple[str, Claim, float]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, schema: str, claim: Claim) -> None:
        with self._lock:
            self._waiting.append((schema, claim, time.monotonic() + IN_FLIGHT_TAKEOVER_S))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="idempotency-releases", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.RETRY_S)
            with self._lock:
                waiting, self._waiting = self._waiting, []
            left = [entry for entry in waiting if not self._released(*entry)]
            with self._lock:
                self._waiting += left
                if not self._waiting:
                    self._thread = None
                    return

    @staticmethod
    def _released(schema: str, claim: Claim, give_up_at: float) -> bool:
        if time.monotonic() >= give_up_at:
            return True  # the takeover frees it now
        try:
            release_key(schema, claim)
        except Exception as error:
            logger.debug("idempotency key release still failing: %s", error_text(error))
            return False
        return True


late_releases = LateReleases()


def purge_expired_keys(conn: psycopg.Connection) -> int:
    """Delete keys past their 24 hours; returns how many."""
    return conn.execute("delete from idempotency_keys where expires_at <= now()").rowcount
