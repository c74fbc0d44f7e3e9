"""devhost's Web PubSub hub under uvicorn on a fixed loopback port, stoppable and restartable.

A fixed port lets the app's connection string stay the same across a stop/start, which is how
the hub outage tests take the hub away and bring it back (with empty state, like a real restart).
"""

from __future__ import annotations

import threading
import time

import uvicorn

from devhost.webpubsub.app import create_hub_app, hub_server_config


class HubServer:
    """`start()` serves a fresh hub; `stop()` shuts it down (clients are disconnected)."""

    def __init__(self, port: int, access_key: str) -> None:
        self.port = port
        self.access_key = access_key
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def connection_string(self) -> str:
        return f"Endpoint=http://127.0.0.1:{self.port};AccessKey={self.access_key};Version=1.0;"

    def start(self, timeout_s: float = 10.0) -> None:
        config = hub_server_config(
            create_hub_app(self.access_key), host="127.0.0.1", port=self.port
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="test-hub", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        # uvicorn offers no event to wait on; `started` flips once the socket listens.
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the Web PubSub hub did not start on port {self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None
