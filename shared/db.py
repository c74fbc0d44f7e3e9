"""One connection pool per process; every tenant query runs in `tenant_transaction(schema)`."""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from shared import errors
from shared.config import get_settings

log = logging.getLogger("stelly.db")

SCHEMA_NAME = re.compile(r"^tenant_[a-z0-9_]{1,48}$")
# Recycle connections so a failover or a PgBouncer restart never pins stale ones for long.
MAX_CONNECTION_LIFETIME_S = 30 * 60

# Errors worth a retry by the client (503 + Retry-After at the HTTP edge), never a 500.
TRANSIENT_DATABASE_ERRORS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.LockNotAvailable,
    # The server ended a transaction left idle past SESSION_TIMEOUTS (an InternalError).
    psycopg.errors.IdleInTransactionSessionTimeout,
    # A server that went read-only (Azure's when its storage fills, a connection that reached a
    # standby during a failover): writes work again once it is writable. Also what keeps a
    # process opening its pool then from failing every request (its registry migration waits).
    psycopg.errors.ReadOnlySqlTransaction,
    psycopg.OperationalError,
    PoolTimeout,
)

# Bounded waits on every pooled connection. A request queued behind a stuck lock would
# otherwise hold its connection past Front Door's 60 s (and a full pool starves every other
# restaurant on the instance): it gives up instead, a 503 with Retry-After (LockNotAvailable
# and QueryCanceled are transient above). A transaction left open cannot hold locks for long.
# Migrations set their own (shared/migrate.py). Sent as the `options` startup parameter, so
# they cost no round trip; behind PgBouncer, list `options` in ignore_startup_parameters and
# set them on the database instead.
SESSION_TIMEOUTS = {
    "lock_timeout": "5s",
    "statement_timeout": "25s",
    "idle_in_transaction_session_timeout": "60s",
}
# Over TCP, notice a peer that vanished (a failover, a partition) within about half a minute.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
               "keepalives_count": 3, "tcp_user_timeout": 30_000}  # fmt: skip
# A connection idle this long is checked (one empty query) before a request gets it: the
# server may have dropped it meanwhile (a restart, maintenance). Busy connections skip the
# round trip; one dropped while busy fails only the request that was using it.
CHECK_AFTER_IDLE_S = 2.0

# While the database is out of reach the pool retries with exponential back-off (1, 2, 4, 8,
# 16 ... s, psycopg_pool's own, uncapped): after an outage of 20 s a request waited 12 s for the
# next attempt, and after a minute or so its whole wait, with the server long back. Capped here.
MAX_RECONNECT_DELAY_S = 2.0
# How long a request waits for a connection before its 503 (the pool's default is 30 s, a
# worker thread held that long for every request while the database is down).
POOL_WAIT_S = 10.0


class _CappedBackoff(AttemptWithBackoff):
    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, MAX_RECONNECT_DELAY_S)


class _Pool(ConnectionPool):
    """psycopg_pool's pool with reconnection attempts at most MAX_RECONNECT_DELAY_S apart.

    `_add_connection` is the pool's own (psycopg_pool is pinned): it makes the attempt a
    reconnection reuses when none is given, so the cap holds for every retry after it.
    """

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        super()._add_connection(attempt or _CappedBackoff(timeout=self.reconnect_timeout), growing)


_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()
# Run on every pool a process opens, before any caller gets it (function_app.py registers the
# registry migrations: in Azure no deploy step reaches the database, so the app brings the
# registry up to date itself). A database that cannot be reached keeps them pending, tried
# again by one caller every HOOK_RETRY_S while the others carry on (and fail, or not, on their
# own): holding every caller behind the lock while each waited out a connection would queue a
# process's requests one after another.
_open_hooks: list[Callable[[ConnectionPool], None]] = []
_hooks_pending = False
_hooks_retry_at = 0.0
HOOK_RETRY_S = 5.0
_returned_at: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _note_return(conn: psycopg.Connection) -> None:
    _returned_at[conn] = time.monotonic()


def _check_if_idle(conn: psycopg.Connection) -> None:
    """Raise for a dead connection that sat idle (the pool then discards it and opens one)."""
    if time.monotonic() - _returned_at.get(conn, 0.0) < CHECK_AFTER_IDLE_S:
        return
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        # The server restarted: every idle connection is as dead as this one. Dropping them all
        # now beats the pool finding them one by one, backing off longer each time (0, 1, 2,
        # 4 ... s), past its wait for a connection (POOL_WAIT_S).
        if _pool is not None:
            _pool.check()
        raise


def _connection_options() -> dict[str, object]:
    options = " ".join(f"-c {name}={value}" for name, value in SESSION_TIMEOUTS.items())
    # No server-side prepared statements: one would outlive its transaction, planned against
    # whichever tenant's tables first ran it, and fail another tenant's (or, after a migration,
    # the same tenant's) query with "cached plan must not change result type". Nothing about a
    # tenant stays on a pooled connection (design §3); PgBouncer in transaction mode needs it too.
    return {"row_factory": dict_row, "options": options, "prepare_threshold": None, **_KEEPALIVES}


def get_pool() -> ConnectionPool:
    """The process-wide pool, opened on first use."""
    global _pool
    if _pool is not None:
        if _hooks_pending and time.monotonic() >= _hooks_retry_at:
            _retry_open_hooks(_pool)
        return _pool
    with _pool_lock:
        if _pool is None:
            settings = get_settings()
            pool = _Pool(
                settings.database_url.get_secret_value(),
                min_size=1,
                max_size=settings.database_pool_max,
                timeout=POOL_WAIT_S,
                max_lifetime=MAX_CONNECTION_LIFETIME_S,
                kwargs=_connection_options(),
                check=_check_if_idle,
                reset=_note_return,
                name="stelly",
                open=True,
            )
            try:
                _run_open_hooks(pool)
            except BaseException:
                pool.close()
                raise
            _pool = pool
    return _pool


def _run_open_hooks(pool: ConnectionPool) -> None:
    """Run the hooks; a database out of reach leaves them pending (raises anything else)."""
    global _hooks_pending, _hooks_retry_at
    try:
        for hook in _open_hooks:
            hook(pool)
    except TRANSIENT_DATABASE_ERRORS as error:
        _hooks_pending, _hooks_retry_at = True, time.monotonic() + HOOK_RETRY_S
        log.warning("pool opened, its start-up work pending (database unreachable): %s", error)
        return
    _hooks_pending = False


def _retry_open_hooks(pool: ConnectionPool) -> None:
    if not _pool_lock.acquire(blocking=False):
        return  # another caller is at it
    try:
        if _hooks_pending and _pool is pool and time.monotonic() >= _hooks_retry_at:
            _run_open_hooks(pool)
    finally:
        _pool_lock.release()


def on_pool_open(hook: Callable[[ConnectionPool], None]) -> None:
    """Run hook(pool) on each pool this process opens, before anyone else uses it."""
    if hook not in _open_hooks:
        _open_hooks.append(hook)


def close_pool() -> None:
    """Close the pool (tests and shutdown); the next get_pool() opens a new one."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


def check_schema_name(schema: str) -> str:
    """Return schema if it is a tenant schema name, else raise ValueError before it nears SQL."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"not a tenant schema name: {schema!r}")
    return schema


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """A pooled connection inside one transaction with the default (public) search path.

    A connection the server dropped while it sat in the pool for less than CHECK_AFTER_IDLE_S
    (a restart, a failover) fails at BEGIN, before the caller has run anything: every other
    idle connection is then as dead, so they all go and the transaction starts again on a new
    one. Without that, each dead connection failed one request in turn (a busy instance: as
    many 503s as its pool held), and an order cut off by the restart could not release its
    Idempotency-Key on the next, dead, connection.
    """
    pool = get_pool()
    for attempt in range(2):
        with ExitStack() as stack:
            conn = stack.enter_context(pool.connection())
            try:
                stack.enter_context(conn.transaction())
            except psycopg.OperationalError:
                if attempt or not conn.broken:
                    raise
                log.warning("a pooled connection was dropped by the server; checking the others")
                pool.check()
                continue
            yield conn
            return


_SCOPE = "select set_config('search_path', %s, true)"
_SCOPE_ASYNC_COMMIT = _SCOPE + ", set_config('synchronous_commit', 'off', true)"


@contextmanager
def tenant_transaction(
    schema: str, *, synchronous_commit: bool = True, snapshot: bool = False
) -> Iterator[psycopg.Connection]:
    """A pooled connection in one transaction whose search path is the tenant's schema.

    `set_config(..., true)` is transaction-local, so the path ends with the transaction (also
    behind PgBouncer in transaction mode) and nothing about the tenant stays on the connection.
    `synchronous_commit=False` commits without waiting for the WAL flush, set in the same
    statement so it costs no round trip of its own. `snapshot=True` reads every statement from
    one snapshot (REPEATABLE READ, read only), for an answer built from several queries that
    must agree (a day's summary and its page), at one round trip more.
    """
    check_schema_name(schema)
    try:
        with transaction() as conn:
            if snapshot:
                # Before any query: the isolation level is fixed by the transaction's first one.
                conn.execute("set transaction isolation level repeatable read, read only")
            quoted = sql.Identifier(schema).as_string(conn)
            conn.execute(_SCOPE if synchronous_commit else _SCOPE_ASYNC_COMMIT, [quoted])
            yield conn
    except psycopg.errors.UndefinedTable:
        # A restaurant deleted on another instance stays in this one's tenant cache for a few
        # seconds after its schema is dropped: that is a closed storefront, not our failure.
        if not _schema_exists(schema):
            raise errors.gone("This restaurant has closed its storefront") from None
        raise


def _schema_exists(schema: str) -> bool:
    with transaction() as conn:
        found = conn.execute("select 1 from pg_namespace where nspname = %s", [schema])
        return found.fetchone() is not None
