"""Rendered response bodies with their ETags, keyed by everything they depend on.

The storefront's hot reads (config, menu) render the same bytes for every request until the
tenant's data or the minute changes, so each rendering is serialised and hashed once. Keys carry
versions, so a new version simply misses; old keys age out when the cache is full.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable
from typing import Any

DEFAULT_MAX_ENTRIES = 2048


def content_etag(payload: bytes) -> str:
    """A strong ETag of payload (the first 128 bits of its SHA-256)."""
    return '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'


def json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class RenderedCache:
    """key → (JSON bytes, ETag); thread-safe, bounded, oldest entry evicted first."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._max = max_entries
        self._entries: dict[Hashable, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], Any]) -> tuple[bytes, str]:
        """The cached rendering for key, or render() serialised, hashed and remembered."""
        found = self._entries.get(key)
        if found is not None:
            return found
        # Rendering outside the lock: two threads may both render once; both results are equal.
        payload = json_bytes(render())
        entry = (payload, content_etag(payload))
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = entry
        return entry
