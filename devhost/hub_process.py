"""The Web PubSub hub as a child process (`python -m devhost.webpubsub`), started and stopped.

A process of its own, like the Azure service it stands in for: measured on an order, whose
outbox event is one REST call to the hub, devhost's CPU per order went from 8.0 to 5.9 ms once
the hub's token checks and fan-out no longer ran under devhost's GIL.

devhost binds the hub's port itself and hands the listening socket to the child. So a port in
use fails devhost's start with a clear error (rather than a child that cannot bind while
someone else answers on the port), and a hub started again after a crash serves the same
socket: clients that connect in between wait in its backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

from devhost.errors import StartupError

logger = logging.getLogger("devhost.webpubsub")

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
SUPERVISE_EVERY_S = 0.5
_PROBE = b"GET / HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n"


class HubProcess:
    """One hub child: `start()`, `await ready()` (or `wait_ready()`), then `stop()`."""

    def __init__(self, access_key: str, *, port: int, bind: str = "127.0.0.1") -> None:
        self._key = access_key
        self.port = port
        self.bind = bind
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Bind the port (first time only) and start a hub child serving it."""
        if self._socket is None:
            try:
                self._socket = socket.create_server((self.bind, self.port), backlog=2048)
            except OSError as error:
                raise StartupError(
                    f"the Web PubSub hub cannot listen on {self.bind}:{self.port} ({error}); "
                    "choose another --pubsub-port"
                ) from error
        fd = self._socket.fileno()
        command = [sys.executable, "-m", "devhost.webpubsub", "--fd", str(fd)]
        self._process = subprocess.Popen(
            command, cwd=PACKAGE_ROOT, stdin=subprocess.PIPE, text=True, pass_fds=(fd,)
        )
        assert self._process.stdin is not None
        # The pipe stays open: the hub exits when it closes, also when this process dies.
        self._process.stdin.write(self._key + "\n")
        self._process.stdin.flush()

    def _serving(self) -> bool:
        """True once the child answers HTTP on the socket; raises if it exited."""
        assert self._process is not None, "start() first"
        if self._process.poll() is not None:
            code = self._process.returncode
            raise StartupError(f"the Web PubSub hub exited with code {code} before serving")
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        # Only the child accepts on the socket: any HTTP answer is the hub's.
        with (
            contextlib.suppress(OSError),
            socket.create_connection((host, self.port), 0.2) as probe,
        ):
            probe.sendall(_PROBE)
            return probe.recv(16).startswith(b"HTTP/1.1")
        return False

    async def ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not await asyncio.to_thread(self._serving):
            if time.monotonic() > deadline:
                raise StartupError(f"the Web PubSub hub did not answer on port {self.port}")
            await asyncio.sleep(0.02)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        asyncio.run(self.ready(timeout_s))

    async def supervise(self, stopping: asyncio.Event) -> None:
        """Start a fresh hub whenever this one exits, until stopping is set.

        Like a restart of the service: connections and groups are gone, clients reconnect, and
        the outbox publishes what the hub missed once it serves again.
        """
        while not stopping.is_set():
            await asyncio.sleep(SUPERVISE_EVERY_S)
            process = self._process
            if process is None or process.poll() is None:
                continue
            # Ctrl-C in a terminal reaches the hub too, and devhost may not have seen it yet.
            await asyncio.sleep(SUPERVISE_EVERY_S)
            if stopping.is_set():
                return
            logger.warning(
                "the Web PubSub hub exited with code %s; starting it again", process.returncode
            )
            _close_stdin(process)
            self.start()
            try:
                await self.ready()
            except StartupError as error:
                logger.error("%s", error)

    def stop(self) -> None:
        """Ask the hub to close its connections and exit; kill it if it does not in time."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            _close_stdin(process)
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _close_stdin(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    with contextlib.suppress(OSError):
        process.stdin.close()
