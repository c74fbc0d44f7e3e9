"""A service that stops answering, for tests: a TCP proxy in front of the real Postgres,
Table Storage or Blob Storage that the test can stall (a frozen server, a network partition),
with every connection left open. Fixtures point the app's settings at the proxy.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from shared import db, storage
from shared.config import get_settings


class StallingProxy:
    """A TCP proxy to a real service that can be told to stop relaying: a service that hangs
    (network partition, a frozen server), with every connection left open."""

    def __init__(self, connect: Callable[[], socket.socket]) -> None:
        self.connect = connect
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.stalled = threading.Event()
        self.closed = False
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = self.connect()
            self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            while self.stalled.is_set() and not self.closed:
                time.sleep(0.05)  # hold the bytes: the service does not answer
            if self.closed:
                return
            try:
                sink.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.closed = True
        self.stalled.clear()
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


def tcp(host: str, port: int) -> Callable[[], socket.socket]:
    return lambda: socket.create_connection((host, port))


def unix(path: str) -> Callable[[], socket.socket]:
    def connect() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        return sock

    return connect


def run_in_thread(fn: Callable[[], object]) -> threading.Thread:
    """fn in a daemon thread: a hang guard is `thread.join(bound)` then `thread.is_alive()`."""
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def _storage_proxy(monkeypatch: pytest.MonkeyPatch, service: str) -> Iterator[StallingProxy]:
    """service ("Table", "Blob") of the storage account reached through a proxy."""
    current = os.environ["AzureWebJobsStorage"]
    port = int(re.search(rf"{service}Endpoint=http://[^:]+:(\d+)", current).group(1))
    proxy = StallingProxy(tcp("127.0.0.1", port))
    via_proxy = re.sub(rf"({service}Endpoint=http://[^:]+:)\d+", rf"\g<1>{proxy.port}", current)
    monkeypatch.setenv("AzureWebJobsStorage", via_proxy)
    get_settings.cache_clear()
    storage.reset_clients()
    yield proxy
    proxy.close()
    monkeypatch.undo()
    get_settings.cache_clear()
    storage.reset_clients()


@pytest.fixture(name="table_storage_proxy")
def table_storage_proxy_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[StallingProxy]:
    """Table Storage (the tenant directory) reached through a proxy the test can stall."""
    yield from _storage_proxy(monkeypatch, "Table")


@pytest.fixture(name="database_proxy")
def database_proxy_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[StallingProxy]:
    """Postgres reached over TCP through a proxy the test can stall; a fresh pool."""
    socket_dir = re.search(r"host=([^&]+)", os.environ["DATABASE_URL"]).group(1)
    proxy = StallingProxy(unix(f"{socket_dir}/.s.PGSQL.5432"))
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres:@127.0.0.1:{proxy.port}/postgres")
    get_settings.cache_clear()
    db.close_pool()
    yield proxy
    proxy.close()
    db.close_pool()
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture(name="blob_storage_proxy")
def blob_storage_proxy_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[StallingProxy]:
    """Blob Storage reached through a proxy the test can stall."""
    yield from _storage_proxy(monkeypatch, "Blob")


def answered_within(seconds: float, call: Callable[[], object]) -> list[object]:
    """call()'s answer, in a list, if it came within seconds (a hang guard); [] if it did not.
    The call keeps running in its thread: unstall what it waits on afterwards."""
    answers: list[object] = []
    thread = run_in_thread(lambda: answers.append(call()))
    thread.join(seconds)
    return list(answers)
