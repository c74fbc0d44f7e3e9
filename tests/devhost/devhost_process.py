"""Start devhost as a subprocess on free ports for end-to-end tests, and stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from devhost.services import free_port

REPO = Path(__file__).resolve().parents[2]
FIXTURE_DIR = Path(__file__).resolve().parent / "fixture_host"


@dataclass
class DevhostProcess:
    process: subprocess.Popen
    port: int
    pubsub_port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_devhost(
    data_dir: Path,
    *,
    app: str = "server_fixture_app:app",
    app_dir: Path = FIXTURE_DIR,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    ready_path: str = "/api/seen",
    args: tuple[str, ...] = ("--no-services", "--no-migrate"),
    new_session: bool = False,
) -> DevhostProcess:
    """Launch `python -m devhost` and wait until ready_path answers.

    new_session: devhost leads a process group of its own, which a test may signal whole.
    """
    port = port or free_port()
    pubsub_port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"devhost-{port}.log"
    command = [
        sys.executable, "-m", "devhost", "--app", app, "--app-dir", str(app_dir),
        "--port", str(port), "--pubsub-port", str(pubsub_port), "--data-dir", str(data_dir),
        *args,
    ]  # fmt: skip
    env = {**os.environ, **(extra_env or {}), "PYTHONPATH": str(REPO)}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    started = DevhostProcess(process, port, pubsub_port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"devhost exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(started.base_url + ready_path, timeout=0.5).status_code < 500:
                return started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    started.stop(signal.SIGKILL)
    raise RuntimeError(f"devhost did not become ready:\n{log.read_text()[-3000:]}")


def start_app_devhost(data_dir: Path, **options: object) -> DevhostProcess:
    """The real function_app on devhost, on the test session's Postgres and Azurite (the session
    migrated public; tenants are the tests' business)."""
    return start_devhost(  # type: ignore[arg-type]
        data_dir, app="function_app:app", app_dir=REPO, ready_path="/api/health", **options
    )


@contextlib.contextmanager
def serving_devhost(data_dir: Path, **options: object) -> Iterator[DevhostProcess]:
    """start_devhost(data_dir, **options) for a block that expects a clean Ctrl-C at its end."""
    process = start_devhost(data_dir, **options)  # type: ignore[arg-type]
    try:
        yield process
    except BaseException:
        process.stop()  # a failing test must not leave devhost (and its workers) running
        raise
    assert process.stop() == 0, process.log.read_text()[-2000:]


def raw_exchange(devhost: DevhostProcess, request: bytes) -> bytes:
    """Send request bytes as they are; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", devhost.port), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received
