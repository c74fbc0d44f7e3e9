"""Rendered response bodies with their ETags: the newest rendering of each thing, within a budget.

The storefront's hot reads (config, menu) render the same bytes for every request until the
tenant's data or the minute changes, so each rendering is serialised and hashed once. A key names
what is rendered (a tenant's store config, its menu in a time zone); its variant names the state
rendered (versions, and the minute when "open now" or availability depends on it). A new variant
replaces the key's rendering: past minutes and superseded versions are never asked for again, and
keeping them grew a process by a 270 KB menu a minute. Above max_bytes, the keys rendered longest
ago go first.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable
from typing import Any

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def content_etag(payload: bytes) -> str:
    """A strong ETag of payload (the first 128 bits of its SHA-256)."""
    return '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'


def json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class RenderedCache:
    """key → (variant, (JSON bytes, ETag)); thread-safe, at most max_bytes of bodies."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._entries: dict[Hashable, tuple[Hashable, tuple[bytes, str]]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get_or_render(
        self, key: Hashable, variant: Hashable, render: Callable[[], Any]
    ) -> tuple[bytes, str]:
        """key's rendering if it is of variant, else render() serialised, hashed and kept."""
        found = self._entries.get(key)
        if found is not None and found[0] == variant:
            return found[1]
        # Rendering outside the lock: two threads may both render once; both results are equal.
        payload = json_bytes(render())
        rendering = (payload, content_etag(payload))
        with self._lock:
            self._drop(key)
            self._entries[key] = (variant, rendering)
            self._bytes += len(payload)
            while self._bytes > self._max_bytes and len(self._entries) > 1:
                self._drop(next(iter(self._entries)))
        return rendering

    def _drop(self, key: Hashable) -> None:
        dropped = self._entries.pop(key, None)
        if dropped is not None:
            self._bytes -= len(dropped[1][0])

    def cached_bytes(self) -> int:
        return self._bytes
