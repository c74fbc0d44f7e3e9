"""`python -m devhost.services exec`: what it starts is stopped however the run ends.

Each test starts a real `exec` (its own Postgres and Azurite) around a sleeping command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.services import (
    LOCAL,
    REPO,
    _alive,
    _processes_under,
    reap_stale_runs,
    short_data_dir,
)

RUNS = LOCAL / "run"


def _folders(run_dir: Path) -> list[Path]:
    return [run_dir, short_data_dir(run_dir / "pg")]


def _services_of(run_dir: Path) -> list[int]:
    return _processes_under(_folders(run_dir))


@pytest.fixture
def exec_run() -> Iterator[tuple[subprocess.Popen, Path]]:
    """An exec that started its own services (none given in the environment), all running."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AzureWebJobsStorage")}
    command = [sys.executable, "-m", "devhost.services", "exec", "--"]
    command += [sys.executable, "-c", "import time; time.sleep(120)"]
    proc = subprocess.Popen(command, cwd=REPO, env=env)
    run_dir = RUNS / str(proc.pid)
    deadline = time.monotonic() + 60
    # Postgres (its postmaster) and Azurite (node) both name the run's folders.
    while len(_services_of(run_dir)) < 2:
        assert proc.poll() is None, "exec ended before its services were up"
        assert time.monotonic() < deadline, "the services never came up"
        time.sleep(0.1)
    yield proc, run_dir
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    reap_stale_runs(RUNS)


def _wait_until_gone(run_dir: Path, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while _services_of(run_dir) or run_dir.exists():
        assert time.monotonic() < deadline, f"still running: {_services_of(run_dir)}"
        time.sleep(0.1)


def test_sigterm_stops_the_command_and_the_services(exec_run) -> None:
    proc, run_dir = exec_run
    proc.send_signal(signal.SIGTERM)  # as `timeout` or a CI runner cancelling a job sends it
    assert proc.wait(30) == 128 + signal.SIGTERM
    _wait_until_gone(run_dir)


def test_services_a_killed_exec_left_behind_are_reaped_by_the_next(exec_run) -> None:
    proc, run_dir = exec_run
    proc.kill()  # SIGKILL: no clean-up at all
    proc.wait()
    time.sleep(0.5)
    assert _services_of(run_dir), "the services should have outlived a SIGKILLed exec"
    assert run_dir in reap_stale_runs(RUNS)  # what the next exec does first
    _wait_until_gone(run_dir)


def _postmaster_pid(data_dir: Path) -> int:
    return int((short_data_dir(data_dir) / "postmaster.pid").read_text().split()[0])


def test_a_kept_postgres_stops_even_after_a_run_that_was_killed(tmp_path: Path) -> None:
    # `make dev` keeps its Postgres between runs. A run killed without clean-up (kill -9, a
    # closed terminal) stays counted as a user of it; every later run must still stop the
    # server it started when it ends.
    data_dir = tmp_path / "pg"
    script = (
        "import sys; from pathlib import Path; from devhost.services import embedded_postgres\n"
        "with embedded_postgres(Path(sys.argv[1]), keep=True): print('up', flush=True)\n"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", script.replace("print('up', flush=True)", "input()"), data_dir],
        cwd=REPO, stdin=subprocess.PIPE,
    )  # fmt: skip
    handles = short_data_dir(data_dir) / ".handle_pids.json"
    deadline = time.monotonic() + 60
    while not (handles.exists() and str(killed.pid) in handles.read_text()):  # up and counted
        assert time.monotonic() < deadline, "postgres never came up"
        time.sleep(0.1)
    first = _postmaster_pid(data_dir)
    killed.kill()  # no clean-up at all: postgres runs on, the dead pid stays counted
    killed.wait()
    os.kill(first, signal.SIGINT)  # stopped by hand, as the user would after noticing it
    while _alive(first):
        time.sleep(0.1)
    try:
        subprocess.run([sys.executable, "-c", script, data_dir], cwd=REPO, check=True, timeout=60)
        assert not (short_data_dir(data_dir) / "postmaster.pid").exists(), "postgres left running"
    finally:
        if (short_data_dir(data_dir) / "postmaster.pid").exists():
            os.kill(_postmaster_pid(data_dir), signal.SIGINT)
