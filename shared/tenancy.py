"""Which tenant a request is for: its host → a tenant record, through a TTL cache.

Read path: in-process TTL cache → Table Storage directory → Postgres (which then refills the
directory). A directory entry older than DIRECTORY_MAX_AGE_S counts as a miss, so an entry
whose update was lost is read again from Postgres within that time. Only a host that maps to
an active tenant gets through `require_serving`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from azure.core.exceptions import AzureError

from shared import errors
from shared.config import Settings, get_settings
from shared.db import transaction
from shared.directory import fresh_directory_get, refill_directory
from shared.tenants import TenantRecord, tenant_by_domain

logger = logging.getLogger("stelly.tenancy")

DEFAULT_TTL_S = 5.0
# Unknown hosts are cached too, and anyone can make up hosts under a wildcard domain.
DEFAULT_MAX_ENTRIES = 10_000
PROVISIONING_RETRY_AFTER_S = 5


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header's value or "" (lowercase name: func.HttpRequest headers are
    case-insensitive, and plain dicts in tests use lowercase keys)."""
    return headers.get(name) or ""


def normalise_host(raw: str) -> str:
    """Lowercase, drop the port and a trailing dot; `[::1]:7071` → `::1`."""
    host = raw.split(",")[0].strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def request_host(headers: Mapping[str, str], settings: Settings | None = None) -> str:
    """The host the customer typed.

    `X-Forwarded-Host` is trusted only when the request provably came through our Front Door
    (`X-Azure-FDID` equals FRONTDOOR_ID) or in local development; anyone can send the header.
    """
    settings = settings or get_settings()
    forwarded = header(headers, "x-forwarded-host")
    if forwarded:
        via_front_door = bool(settings.frontdoor_id) and (
            header(headers, "x-azure-fdid").strip().lower() == settings.frontdoor_id.lower()
        )
        if via_front_door or settings.is_development:
            return normalise_host(forwarded)
    return normalise_host(header(headers, "host"))


def is_platform_host(host: str, settings: Settings | None = None) -> bool:
    """The platform API's own hosts (`<PLATFORM_DOMAIN>` and `api.<PLATFORM_DOMAIN>`), and in
    development the loopback addresses devhost's base URL uses."""
    settings = settings or get_settings()
    domain = settings.platform_domain
    if host in (domain, f"api.{domain}"):
        return True
    return settings.is_development and host in ("127.0.0.1", "::1")


def _lookup_database(domain: str) -> TenantRecord | None:
    with transaction() as conn:
        return tenant_by_domain(conn, domain)


class TenantResolver:
    """Domain → tenant record with an in-process TTL cache in front of the directory."""

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        directory_get: Callable[[str], TenantRecord | None] = fresh_directory_get,
        directory_put: Callable[[str, TenantRecord], object] = refill_directory,
        database_get: Callable[[str], TenantRecord | None] = _lookup_database,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._ttl = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._directory_get = directory_get
        self._directory_put = directory_put
        self._database_get = database_get
        self._entries: dict[str, tuple[float, TenantRecord | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, domain: str) -> TenantRecord | None:
        """The tenant for domain, or None; unknown domains are cached too (cheap 404s)."""
        now = self._clock()
        cached = self._entries.get(domain)
        if cached is not None and cached[0] > now:
            return cached[1]
        readable, record = self._read_directory(domain)
        if record is None:
            record = self._database_get(domain)
            if record is not None and readable:  # an unreadable directory is not refilled
                self._refill_directory(domain, record)
        with self._lock:
            if domain not in self._entries and len(self._entries) >= self._max_entries:
                self._make_room(now)
            self._entries[domain] = (now + self._ttl, record)
        return record

    def _make_room(self, now: float) -> None:
        """Drop expired entries; if none had expired, the oldest tenth (insertion order)."""
        expired = [domain for domain, (until, _) in self._entries.items() if until <= now]
        if not expired:
            expired = list(self._entries)[: max(1, self._max_entries // 10)]
        for domain in expired:
            del self._entries[domain]

    def cached_entries(self) -> int:
        return len(self._entries)

    def _read_directory(self, domain: str) -> tuple[bool, TenantRecord | None]:
        """(whether the directory answered, its record). It is a cache in front of Postgres:
        storage trouble costs speed, not answers."""
        try:
            return True, self._directory_get(domain)
        except AzureError as error:
            logger.warning("tenant directory unreadable, using Postgres: %s", type(error).__name__)
            return False, None

    def _refill_directory(self, domain: str, record: TenantRecord) -> None:
        try:
            self._directory_put(domain, record)
        except AzureError as error:
            logger.warning("tenant directory not refilled: %s", type(error).__name__)

    def invalidate(self, domain: str) -> None:
        with self._lock:
            self._entries.pop(domain, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def require_serving(
    record: TenantRecord | None, host: str, *, while_suspended: bool = False
) -> TenantRecord:
    """The tenant if it serves requests now, else the problem the client should see.

    while_suspended: the request finishes what a suspended restaurant had started (its
    kitchen working through open orders, a customer following one), so suspension lets it by.
    """
    if record is None or record.status == "failed":
        raise errors.not_found(f"No restaurant is served at {host}")
    if record.status == "provisioning":
        raise errors.service_unavailable(
            f"{record.display_name} is being set up; try again shortly",
            retry_after=PROVISIONING_RETRY_AFTER_S,
        )
    if record.status in ("deleting", "deleted"):
        raise errors.gone(f"The restaurant at {host} has closed its storefront")
    if record.status == "suspended" and not while_suspended:
        raise suspended(host)
    return record


def suspended(host: str) -> errors.ProblemError:
    """The answer of a suspended restaurant's host to what it no longer serves."""
    return errors.forbidden(f"The restaurant at {host} is suspended")


resolver = TenantResolver()


# The longest DNS name. A longer host names no restaurant: it is neither looked up (a directory
# read and a query, then a cache entry, per made-up name) nor quoted back whole.
MAX_HOST_LENGTH = 253


def resolve_tenant(headers: Mapping[str, str], *, while_suspended: bool = False) -> TenantRecord:
    """The serving tenant for a request's headers (host rule, cache, status answers)."""
    host = request_host(headers)
    if len(host) > MAX_HOST_LENGTH:
        raise errors.not_found("No restaurant is served at this host (longer than a DNS name)")
    return require_serving(resolver.lookup(host), host, while_suspended=while_suspended)
