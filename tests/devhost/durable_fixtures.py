"""Helpers for the durable engine tests: an engine on uvicorn, the real client, a child process."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.utils import http_utils

from devhost.durable import DurableEngine
from devhost.durable.binding import client_binding_json
from devhost.durable.standalone import BackgroundLoop, serving
from devhost.services import free_port
from tests.devhost import durable_fixture_app

REPO = Path(__file__).resolve().parents[2]
# get_functions() may run once per app object (notes/durable-protocol.md).
FUNCTIONS = durable_fixture_app.app.get_functions()
ENDED = ("Completed", "Failed", "Terminated")
T = TypeVar("T")


def unique_hub() -> str:
    """A task hub of its own for each test, so tests never see each other's instances."""
    return f"t{uuid.uuid4().hex[:12]}"


def storage() -> str:
    """The Azurite connection string devhost.services exported."""
    connection = os.environ.get("AzureWebJobsStorage")
    if not connection:
        raise RuntimeError("AzureWebJobsStorage is not set: run under `python -m devhost.services`")
    return connection


class ClientLoop(BackgroundLoop):
    """The one loop all durable-client calls run on.

    The SDK keeps a process-wide aiohttp session bound to the loop that created it, so every
    call must come from the same loop; a session left by another loop is dropped first.
    """

    def __init__(self) -> None:
        super().__init__()
        http_utils._client_session = None

    def close(self) -> None:
        """Close the SDK's session on its own loop, then stop the loop."""
        self.run(http_utils._close_session(), 10)
        super().close()

    def status(
        self, client: df.DurableOrchestrationClient, instance_id: str, **flags: bool
    ) -> df.DurableOrchestrationStatus:
        """get_status through the real client."""
        return self.run(client.get_status(instance_id, **flags), 30)

    def wait_for(
        self,
        client: df.DurableOrchestrationClient,
        instance_id: str,
        until: tuple[str, ...] = ENDED,
        timeout: float = 30,
        **flags: bool,
    ) -> df.DurableOrchestrationStatus:
        """Poll get_status until the runtime status is one of until."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(client, instance_id, **flags)
            if status and status.runtime_status and status.runtime_status.value in until:
                return status
            if time.monotonic() > deadline:
                state = status.runtime_status if status else None
                raise AssertionError(f"{instance_id} still {state} after {timeout}s")
            time.sleep(0.01)


class EngineHost:
    """A DurableEngine on uvicorn (on the client loop) and a real client bound to it."""

    def __init__(
        self,
        loop: ClientLoop,
        max_concurrent_activities: int = 10,
        *,
        functions: list[Any] | None = None,
        hub: str | None = None,
    ) -> None:
        self.loop = loop
        self.port = free_port()
        self.hub = hub or unique_hub()  # the same hub: devhost started again on its storage
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.engine = DurableEngine(
            FUNCTIONS if functions is None else functions,
            storage(),
            self.hub,
            self.base_url,
            max_concurrent_activities,
        )
        self.client = df.DurableOrchestrationClient(self.engine.client_binding_json())
        self._stack = contextlib.AsyncExitStack()

    def start(self) -> EngineHost:
        """Serve until stop()."""
        self.loop.run(self._stack.enter_async_context(serving(self.engine, self.port)), 30)
        return self

    def stop(self) -> None:
        """Stop uvicorn and the engine."""
        self.loop.run(self._stack.aclose(), 30)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a client coroutine on the client loop."""
        return self.loop.run(coro, 30)

    def wait_for(self, instance_id: str, **kwargs: Any) -> df.DurableOrchestrationStatus:
        """Poll this host's instance until it ends (or reaches `until`)."""
        return self.loop.wait_for(self.client, instance_id, **kwargs)


class EngineProcess:
    """tests/devhost/durable_engine_proc.py in a child process, for crash drills."""

    def __init__(self, hub: str, port: int, log: Path) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.client = df.DurableOrchestrationClient(client_binding_json(self.base_url, hub))
        command = [
            sys.executable, "-m", "tests.devhost.durable_engine_proc",
            "--app", "tests.devhost.durable_fixture_app:app", "--hub", hub, "--port", str(port),
        ]  # fmt: skip
        self._log = log.open("ab")
        self.process = subprocess.Popen(command, cwd=REPO, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 30
        while not self._listening(port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"engine process did not start; see {log}")
            time.sleep(0.05)

    @staticmethod
    def _listening(port: int) -> bool:
        """Whether something accepts connections on port."""
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        return False

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._log.close()


@pytest.fixture(scope="module", name="loop")
def loop_fixture() -> Iterator[ClientLoop]:
    client_loop = ClientLoop()
    yield client_loop
    client_loop.close()


def start(
    host: EngineHost, name: str, payload: object = None, instance_id: str | None = None
) -> str:
    return host.run(host.client.start_new(name, instance_id, payload))


@functools.cache
def functions_of(app: Any) -> list[Any]:
    """app.get_functions(), read once per app (it may run once per app object)."""
    return app.get_functions()


class RunCounter:
    """How many times each instance's orchestrator code has run (first run vs. replays):
    `first_run = count_run(context.instance_id) == 1`."""

    def __init__(self) -> None:
        self._runs: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, instance_id: str) -> int:
        with self._lock:
            self._runs[instance_id] = self._runs.get(instance_id, 0) + 1
            return self._runs[instance_id]
