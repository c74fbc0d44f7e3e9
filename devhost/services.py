"""Start the local backing services (embedded Postgres, Azurite) and stop only what we started.

`python -m devhost.services exec -- CMD...` starts whatever the environment does not already
provide (`DATABASE_URL`, `AzureWebJobsStorage`), exports their addresses to CMD and stops them
afterwards by pid. `make test` runs pytest this way; `make dev` uses the same functions.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCAL = REPO / ".local"
AZURITE_JS = LOCAL / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"
DEV_ACCOUNT = "devstoreaccount1"
# The well-known Azurite development key (public; documented by Microsoft), not a secret.
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# Unix socket paths are limited to ~107 bytes; pgserver puts its socket in the data folder.
_MAX_SOCKET_DIR = 80


@dataclass(frozen=True)
class AzuritePorts:
    blob: int
    queue: int
    table: int

    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob}/{DEV_ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue}/{DEV_ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{self.table}/{DEV_ACCOUNT};"
        )


DEFAULT_AZURITE_PORTS = AzuritePorts(10000, 10001, 10002)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_azurite_ports() -> AzuritePorts:
    return AzuritePorts(free_port(), free_port(), free_port())


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


def short_data_dir(preferred: Path) -> Path:
    """A data folder whose socket path fits the Unix limit; falls back to /tmp keyed by the repo."""
    if len(str(preferred)) <= _MAX_SOCKET_DIR:
        return preferred
    digest = hashlib.sha1(str(preferred).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"stelly-{digest}"


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, *, keep: bool) -> Iterator[str]:
    """Run pgserver in data_dir and yield its URL; the folder is removed afterwards unless keep."""
    import pgserver

    data_dir = short_data_dir(data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if keep:
        _forget_dead_users(data_dir)
    # Always "stop": pgserver's own "delete" removes the folder once and raises when a file is
    # still being written (a `pg_wal` segment as the last process exits), which failed a run
    # whose every test had passed. The folder goes here instead, given a moment to settle.
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        if not keep:
            _remove_folder(data_dir)


def _remove_folder(folder: Path, attempts: int = 20) -> None:
    """Remove folder, trying again while a stopping process still writes in it; what is left
    after that goes with the next run's reap_stale_runs."""
    for _ in range(attempts):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.25)


def _forget_dead_users(data_dir: Path) -> None:
    """pgserver counts the processes using a kept server (`.handle_pids.json`) and stops it when
    the last one leaves. One killed without clean-up (kill -9, a closed terminal) stays counted
    for ever, and then no later run ever stops the server it started: forget the dead first."""
    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


@contextlib.contextmanager
def azurite(location: Path, ports: AzuritePorts, *, keep: bool) -> Iterator[str]:
    """Run Azurite (installed by the Makefile into .local/azurite) and stop it by its own pid."""
    if not AZURITE_JS.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE_JS}; run `make install` first")
    location.mkdir(parents=True, exist_ok=True)
    command = [
        "node", str(AZURITE_JS), "--silent", "--skipApiVersionCheck", "--disableTelemetry",
        "--location", str(location),
        "--blobHost", "127.0.0.1", "--blobPort", str(ports.blob),
        "--queueHost", "127.0.0.1", "--queuePort", str(ports.queue),
        "--tableHost", "127.0.0.1", "--tablePort", str(ports.table),
    ]  # fmt: skip
    log = open(location / "azurite.log", "ab")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for port in (ports.blob, ports.queue, ports.table):
            _wait_for_port(port, proc, 30, "Azurite")
        yield ports.connection_string()
    finally:
        stop_process(proc)
        log.close()
        if not keep:
            shutil.rmtree(location, ignore_errors=True)


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the process we started, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def local_services(
    run_dir: Path, *, azurite_ports: AzuritePorts, keep: bool
) -> Iterator[dict[str, str]]:
    """Yield the environment for the services: the caller's own if set, else ones we start."""
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or stack.enter_context(
            embedded_postgres(run_dir / "pg", keep=keep)
        )
        env["AzureWebJobsStorage"] = os.environ.get("AzureWebJobsStorage") or stack.enter_context(
            azurite(run_dir / "azurite", azurite_ports, keep=keep)
        )
        yield env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _processes_under(folders: list[Path]) -> list[int]:
    """Pids whose command line names one of folders (Linux /proc; elsewhere none are found)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(str(folder) in command for folder in folders):
            found.append(int(entry.name))
    return found


def reap_stale_runs(runs: Path) -> list[Path]:
    """Stop what an `exec` killed without its clean-up (SIGKILL) left running; drop its folder.

    A run folder is named after the pid of its `exec`; once that pid is gone, nothing else
    uses the Postgres and Azurite started for it.
    """
    reaped = []
    for run_dir in sorted(runs.glob("[0-9]*")):
        if _alive(int(run_dir.name)):
            continue
        folders = [run_dir, short_data_dir(run_dir / "pg")]
        for pid in _processes_under(folders):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        reaped.append(run_dir)
    return reaped


def exit_on_signal(signum: int, frame: object) -> None:
    # SIGTERM (`timeout`, a CI runner cancelling) would end Python without its finally blocks
    # and leave the services running; as SystemExit the command is killed and they are stopped.
    raise SystemExit(128 + signum)


def _exec(argv: list[str]) -> int:
    # Each run gets its own folder and ports so two `make test` runs never share state.
    runs = LOCAL / "run"
    reap_stale_runs(runs)
    run_dir = runs / str(os.getpid())
    signal.signal(signal.SIGTERM, exit_on_signal)
    try:
        with local_services(run_dir, azurite_ports=free_azurite_ports(), keep=False) as env:
            child = subprocess.run(argv, env={**os.environ, **env}, check=False)
            return child.returncode
    finally:
        _remove(run_dir)


def _remove(folder: Path, attempts: int = 10) -> None:
    """rmtree until the folder is gone: a service stopped a moment ago (under load, its last
    writes lag) may still put a file into it while it is being removed."""
    for _ in range(attempts):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.services", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("exec", help="start services, run a command with them, stop them")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- command and arguments")
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        parser.error("exec needs a command after --")
    return _exec(argv)


if __name__ == "__main__":
    sys.exit(main())
