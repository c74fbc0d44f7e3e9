"""devhost's Web PubSub hub runs in a child process: it serves, and it goes when devhost goes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from websockets.sync.client import connect

from devhost.errors import StartupError
from devhost.hub_process import HubProcess
from devhost.services import free_port
from tests.conftest import HUB_ACCESS_KEY
from tests.devhost.devhost_process import FIXTURE_DIR, REPO, DevhostProcess, start_devhost
from tests.devhost.test_webpubsub_hub import eventually


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


def _closes_within(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _listening(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _service(devhost: DevhostProcess) -> WebPubSubServiceClient:
    connection = (
        f"Endpoint=http://127.0.0.1:{devhost.pubsub_port};AccessKey={HUB_ACCESS_KEY};Version=1.0;"
    )
    return WebPubSubServiceClient.from_connection_string(connection, hub="kitchen")


def _child_pids(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def _gone(pid: int) -> bool:
    """Exited: no process, or a zombie its new parent has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_the_hub_serves_sdk_calls_and_websockets(tmp_path: Path) -> None:
    devhost = start_devhost(tmp_path)
    hub = None
    try:
        service = _service(devhost)
        url = service.get_client_access_token(groups=["pass"])["url"]
        with connect(url, subprotocols=["json.webpubsub.azure.v1"]) as client:
            assert json.loads(client.recv(timeout=5))["event"] == "connected"
            service.send_to_group("pass", {"ticket": "#0001"}, content_type="application/json")
            message = json.loads(client.recv(timeout=5))
        assert message["group"] == "pass" and message["data"] == {"ticket": "#0001"}
        assert service.group_exists("pass") is False  # the only member has gone
        # The hub is devhost's child, not devhost itself.
        (hub,) = _child_pids(devhost.process.pid)
    finally:
        # Ctrl-C in a terminal signals both processes.
        if hub is not None:
            os.kill(hub, signal.SIGINT)
        assert devhost.stop(signal.SIGINT) == 0
    assert _closes_within(devhost.pubsub_port, 1)
    assert "Traceback" not in devhost.log.read_text()


def test_the_hub_goes_when_devhost_is_killed(tmp_path: Path) -> None:
    devhost = start_devhost(tmp_path)
    (hub,) = _child_pids(devhost.process.pid)
    assert _listening(devhost.pubsub_port)
    devhost.stop(signal.SIGKILL)
    # No clean-up ran in devhost: the hub notices its stdin close and exits by itself (its
    # socket closes first; the process is gone a moment later, longer on a loaded machine).
    assert _closes_within(devhost.pubsub_port, 5)
    eventually(lambda: _gone(hub), "the hub outlived devhost")


def test_a_hub_that_dies_is_started_again(tmp_path: Path) -> None:
    devhost = start_devhost(tmp_path)
    try:
        (first,) = _child_pids(devhost.process.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while not (_child_pids(devhost.process.pid) - {first}) or not _listening(
            devhost.pubsub_port
        ):
            assert time.monotonic() < deadline, "no new hub"
            time.sleep(0.05)
        service = _service(devhost)
        service.send_to_all({"back": True}, content_type="application/json")
        assert service.group_exists("anyone") is False
    finally:
        assert devhost.stop() == 0
    assert "starting it again" in devhost.log.read_text()


def test_a_busy_hub_port_stops_devhost_with_a_clear_message(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        command = [
            sys.executable, "-m", "devhost", "--app", "server_fixture_app:app",
            "--app-dir", str(FIXTURE_DIR), "--port", "0", "--pubsub-port", str(port),
            "--data-dir", str(tmp_path), "--no-services", "--no-migrate",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        refused = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60
        )
    assert refused.returncode == 1
    assert f"the Web PubSub hub cannot listen on 127.0.0.1:{port}" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_hub_needs_its_key_on_stdin() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "devhost.webpubsub", "--port", "0"],
        cwd=REPO, input="", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "access key" in refused.stderr


def test_a_hub_child_that_exits_while_starting_fails_the_start() -> None:
    """Readiness is an HTTP answer from the hub, not a connection the listening socket accepted
    into its backlog: a child that exits while starting fails the start with its exit code."""
    hub = HubProcess("", port=free_port())  # no key: the child exits with a usage error
    hub.start()
    try:
        with pytest.raises(StartupError, match="exited with code 2"):
            hub.wait_ready()
    finally:
        hub.stop()
