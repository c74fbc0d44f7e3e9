"""Blob triggers for devhost: poll Azurite containers and invoke `blobTrigger` functions.

Mirrors the Functions host's semantics:

- Blob receipts. The host records each blob handed to a function as a receipt blob in
  `azure-webjobs-hosts` (`blobreceipts/<host id>/<function>/<ETag>/<container>/<blob>`): one per
  function, blob name and ETag. A restart or another scan does not fire again for a blob that has
  a receipt; new content changes the ETag and fires again. Delivery is at least once: a host that
  dies mid-invocation has written no receipt and fires again. Here a receipt is a row in the table
  `devhostblobreceipts` (partition = function, row key = SHA-256 of `container/blob`, properties
  `blob`, `etag`) holding the latest ETag delivered, which answers "seen this name+ETag?" alike.
  The host also leases a blob while it runs; devhost only asks the table again before delivering,
  so two devhosts on one account that find a new version at the same moment may both deliver it.
- Each attempt reads the blob afresh: one deleted meanwhile is dropped without a poison entry,
  one overwritten meanwhile is left to the next scan, which delivers the new version.
- Retries and poison blobs. A failing invocation is tried 5 times in all (`maxDequeueCount`); then
  the host queues a message on `webjobs-blobtrigger-poison`, keeps the receipt and stops. Here the
  tries back off exponentially without holding a concurrency slot, and the last failure goes to
  the table `devhostblobpoison` (function, blob, etag, error, attempts) and an error log line.
- Binding data. Paths match like the host's binding templates (devhost/blob_paths.py), after
  `%Setting%` is resolved. The Python worker passes these values to no argument (they feed other
  bindings' paths), so they appear in the log line and `BlobInvocation`.

In Azure, production uses the Event Grid source (`source="EventGrid"`) with the same binding:
uploads are pushed as events instead of found by scanning. Azurite emits no Event Grid events, so
devhost polls for either source; the function gets the same `func.InputStream`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.functions.blob import InputStream
from azure.storage.blob import BlobProperties, BlobServiceClient

from devhost.blob_paths import BlobPath
from devhost.host_config import resolve_app_settings
from devhost.timeouts import within_function_timeout

log = logging.getLogger(__name__)

RunSync = Callable[..., Awaitable[Any]]

RECEIPTS_TABLE = "devhostblobreceipts"
POISON_TABLE = "devhostblobpoison"
DEFAULT_CONNECTION = "AzureWebJobsStorage"
# The host's blob trigger queue hands out batches of 16 invocations at a time.
_MAX_CONCURRENT = 16
# Table properties hold at most 64 KiB; a traceback-sized message is plenty to diagnose.
_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class BlobInvocation:
    """The outcome of delivering one blob version to one function."""

    function: str
    blob: str
    etag: str
    binding_data: dict[str, str]
    attempts: int
    succeeded: bool
    error: str | None = None


@dataclass(frozen=True)
class _Trigger:
    function: str
    param: str
    user_function: Callable[..., Any]
    path: BlobPath
    service: BlobServiceClient


def _connection_string(setting: str | None, storage_connection: str, function: str) -> str:
    """Resolve a binding's `connection` app setting the way the host does."""
    if not setting or setting == DEFAULT_CONNECTION:
        return storage_connection
    # The host also accepts the legacy `AzureWebJobs<name>` spelling of a connection setting.
    for key in (setting, f"AzureWebJobs{setting}"):
        if value := os.environ.get(key):
            return value
    raise ValueError(f"function {function!r}: connection app setting {setting!r} is not set")


def _trigger_binding(function: str, builder: Any) -> dict[str, Any]:
    """The trigger binding; fails at start-up on anything else devhost would have to supply."""
    bindings = json.loads(builder.get_function_json())["bindings"]
    trigger = next(b for b in bindings if b["type"] == "blobTrigger")
    needed = [f"binding {b['name']!r} ({b['type']})" for b in bindings if b is not trigger]
    needed += [
        f"parameter {p.name!r}"
        for p in inspect.signature(builder.get_user_function()).parameters.values()
        if p.name != trigger["name"] and p.default is p.empty
    ]
    if needed:
        raise ValueError(f"function {function!r}: devhost cannot supply {', '.join(needed)}")
    return trigger


def _input_stream(blob: str, uri: str, data: bytes, props: BlobProperties) -> InputStream:
    properties = {
        "ContentLength": props.size,
        "ContentType": props.content_settings.content_type,
        "ETag": _etag(props.etag),
        "LastModified": props.last_modified.isoformat(),
    }
    return InputStream(
        data=data, name=blob, uri=uri, length=len(data), blob_properties=properties,
        metadata=dict(props.metadata or {}),
    )  # fmt: skip


def _etag(value: str) -> str:
    """Listings give ETags bare and download headers give them quoted; compare them bare."""
    return value.strip('"')


def _row_key(*parts: str) -> str:
    """A table row key for any blob name: row keys forbid `/`, `#`, `?` and control characters."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class BlobTriggerWatcher:
    """Polls the containers of every `blobTrigger` function and invokes it once per blob version."""

    def __init__(
        self,
        functions: Iterable[Any],
        storage_connection: str,
        *,
        poll_interval: float = 0.25,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        run_sync: RunSync,
        function_timeout_s: float | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._poll_interval = poll_interval
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._run_sync = run_sync
        self._timeout = function_timeout_s
        self._tables = TableServiceClient.from_connection_string(storage_connection)
        services: dict[str, BlobServiceClient] = {}
        self._triggers: list[_Trigger] = []
        for builder in functions:
            if builder.get_trigger().get_binding_name() != "blobTrigger":
                continue
            name = builder.get_function_name()
            trigger = _trigger_binding(name, builder)
            conn = _connection_string(trigger.get("connection"), storage_connection, name)
            path = BlobPath.parse(resolve_app_settings(name, "path", trigger["path"]))
            if conn not in services:  # One client (and connection pool) per storage account.
                services[conn] = BlobServiceClient.from_connection_string(conn)
            self._triggers.append(
                _Trigger(name, trigger["name"], builder.get_user_function(), path, services[conn])
            )
        self._slots = asyncio.Semaphore(_MAX_CONCURRENT)
        self._in_flight: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[BlobInvocation | None]] = set()
        # function name -> {"container/blob": ETag delivered}; loaded from the table on first use.
        self._receipts: dict[str, dict[str, str]] | None = None
        self._scan_errors: dict[str, str] = {}  # function (or "*") -> last error logged

    async def run(self) -> None:
        """Poll until cancelled (returns at once if there are no blob triggers)."""
        if not self._triggers:  # Nothing to watch: leave storage alone.
            return
        try:
            while True:
                await self._scan()
                await asyncio.sleep(self._poll_interval)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def poll_once(self) -> list[BlobInvocation]:
        """Scan once and wait for the invocations it started, retries included."""
        results = await asyncio.gather(*await self._scan())
        return [result for result in results if result is not None]

    async def _scan(self) -> list[asyncio.Task[BlobInvocation | None]]:
        """List every trigger's container and start an invocation per undelivered blob version.

        A trigger whose listing fails (Azurite restarting, a container name Azure refuses) is
        logged once per distinct error and skipped; the others go on, as the host's listeners do.
        """
        try:
            receipts = await self._load_receipts()
        except Exception as exc:
            self._note_scan_error("*", exc)
            return []
        started = []
        for trigger in self._triggers:
            try:
                listing = await self._run_sync(self._list, trigger)
            except Exception as exc:
                self._note_scan_error(trigger.function, exc)
                continue
            self._scan_errors.pop(trigger.function, None)
            for blob_name, etag in listing:
                blob = f"{trigger.path.container}/{blob_name}"
                key = (trigger.function, blob)
                if receipts[trigger.function].get(blob) == etag or key in self._in_flight:
                    continue
                binding_data = trigger.path.match(blob_name)
                if binding_data is None:
                    continue
                self._in_flight.add(key)
                task = asyncio.create_task(self._deliver(trigger, blob_name, binding_data))
                task.add_done_callback(lambda t, key=key: self._finished(t, key))
                self._tasks.add(task)
                started.append(task)
        return started

    def _note_scan_error(self, function: str, exc: Exception) -> None:
        if self._scan_errors.get(function) != str(exc):
            log.warning("blob trigger scan for %s failed, retrying: %s", function, exc)
        self._scan_errors[function] = str(exc)

    def _finished(self, task: asyncio.Task[BlobInvocation | None], key: tuple[str, str]) -> None:
        """Release the blob for later scans and surface bookkeeping errors."""
        self._tasks.discard(task)
        self._in_flight.discard(key)
        if not task.cancelled() and task.exception() is not None:
            log.error("blob trigger %s for %s failed: %s", key[0], key[1], task.exception())

    async def _load_receipts(self) -> dict[str, dict[str, str]]:
        """Create the tables and read every function's receipts once per watcher."""
        if self._receipts is None:
            self._receipts = await self._run_sync(self._read_receipts)
        return self._receipts

    def _read_receipts(self) -> dict[str, dict[str, str]]:
        self._tables.create_table_if_not_exists(RECEIPTS_TABLE)
        self._tables.create_table_if_not_exists(POISON_TABLE)
        table = self._tables.get_table_client(RECEIPTS_TABLE)
        receipts: dict[str, dict[str, str]] = {}
        for trigger in self._triggers:
            rows = table.query_entities("PartitionKey eq @fn", parameters={"fn": trigger.function})
            receipts[trigger.function] = {row["blob"]: row["etag"] for row in rows}
        return receipts

    def _list(self, trigger: _Trigger) -> list[tuple[str, str]]:
        container = trigger.service.get_container_client(trigger.path.container)
        try:
            return [
                (blob.name, _etag(blob.etag))
                for blob in container.list_blobs(name_starts_with=trigger.path.prefix or None)
            ]
        except ResourceNotFoundError:  # The container does not exist yet: nothing to trigger on.
            return []

    def _download(self, trigger: _Trigger, blob_name: str) -> tuple[bytes, str, BlobProperties]:
        client = trigger.service.get_blob_client(trigger.path.container, blob_name)
        downloader = client.download_blob()
        return downloader.readall(), client.url, downloader.properties

    async def _deliver(
        self, trigger: _Trigger, blob_name: str, binding_data: dict[str, str]
    ) -> BlobInvocation | None:
        """Invoke with retries and backoff; write the receipt (and poison row) when done.

        Every attempt reads the blob afresh, as the host does: one deleted meanwhile is dropped
        (no poison), and one overwritten meanwhile is left to the next scan, which delivers the
        new version, instead of retrying with bytes that are no longer there.
        """
        blob = f"{trigger.path.container}/{blob_name}"
        delivering: str | None = None
        error = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._slots:
                    data, uri, props = await self._run_sync(self._download, trigger, blob_name)
            except ResourceNotFoundError:  # Deleted since it was listed: nothing to deliver.
                return None
            # The receipt names the ETag of the bytes delivered, maybe newer than the listing's.
            etag = _etag(props.etag)
            if delivering is None:
                delivering = etag
                if await self._receipted_elsewhere(trigger.function, blob, etag):
                    return None
            elif etag != delivering:
                return None
            log.info(
                "Executing 'Functions.%s' (Reason='New blob detected: %s', attempt %d, %s)",
                trigger.function, blob, attempt, binding_data,
            )  # fmt: skip
            try:
                async with self._slots:
                    stream = _input_stream(blob, uri, data, props)
                    await within_function_timeout(self._call(trigger, stream), self._timeout)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
                log.warning("'Functions.%s' failed for %s: %s", trigger.function, blob, error)
                if attempt < self._max_attempts:
                    # Sleep outside the slot so other blobs keep running during the backoff.
                    await asyncio.sleep(self._backoff_base * 2 ** (attempt - 1))
                continue
            await self._receipt(trigger.function, blob, etag)
            return BlobInvocation(trigger.function, blob, etag, binding_data, attempt, True)
        # Every attempt read the same version (`etag`; max_attempts >= 1).
        log.error(
            "'Functions.%s' failed %d times for %s (ETag %s); recorded as poison in %s: %s",
            trigger.function, self._max_attempts, blob, etag, POISON_TABLE, error,
        )  # fmt: skip
        await self._run_sync(self._write_poison, trigger.function, blob, etag, error)
        await self._receipt(trigger.function, blob, etag)
        return BlobInvocation(
            trigger.function, blob, etag, binding_data, self._max_attempts, False, error
        )

    async def _receipted_elsewhere(self, function: str, blob: str, etag: str) -> bool:
        """Whether another devhost on this storage account already delivered this version.

        Receipts are read once at start; a second watcher (another devhost, a test's) writes
        them too, so the table is asked again before a version is delivered. Two watchers that
        pick up a new version at the same moment may still both deliver it (at least once).
        """
        table = self._tables.get_table_client(RECEIPTS_TABLE)
        try:
            row = await self._run_sync(table.get_entity, function, _row_key(blob))
        except ResourceNotFoundError:
            return False
        if row["etag"] != etag:
            return False
        (await self._load_receipts())[function][blob] = etag
        return True

    async def _call(self, trigger: _Trigger, stream: InputStream) -> None:
        kwargs = {trigger.param: stream}
        if inspect.iscoroutinefunction(trigger.user_function):
            await trigger.user_function(**kwargs)
        else:
            await self._run_sync(trigger.user_function, **kwargs)

    async def _receipt(self, function: str, blob: str, etag: str) -> None:
        """Persist the receipt first, so a crash in between only ever means a repeat delivery."""
        entity = {"PartitionKey": function, "RowKey": _row_key(blob), "blob": blob, "etag": etag}
        await self._run_sync(self._tables.get_table_client(RECEIPTS_TABLE).upsert_entity, entity)
        (await self._load_receipts())[function][blob] = etag

    def _write_poison(self, function: str, blob: str, etag: str, error: str) -> None:
        entity = {
            "PartitionKey": function,
            "RowKey": _row_key(blob, etag),
            "function": function,
            "blob": blob,
            "etag": etag,
            "error": error,
            "attempts": self._max_attempts,
        }
        self._tables.get_table_client(POISON_TABLE).upsert_entity(entity)
