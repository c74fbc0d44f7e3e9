"""JSON logs: each line carries the request context of the thread that logged it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

from shared.logs import ContextFilter, JsonFormatter, log_context

SCRIPT = """
import logging, threading
from shared.logs import configure_json_logging, log_context
configure_json_logging()
log = logging.getLogger("stelly.test")

def request(n):
    with log_context(correlation_id=f"c{n}", tenant=f"t{n}", function="handler"):
        log.info("served %s", n, extra={"status": 200, "duration_ms": 1.5})

threads = [threading.Thread(target=request, args=(n,)) for n in range(20)]
for t in threads: t.start()
for t in threads: t.join()
with log_context(correlation_id="boom", tenant=None, function="handler"):
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("failed")
"""


def test_json_lines_keep_each_threads_context_and_tracebacks() -> None:
    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=repo, capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    served = {
        line["correlation_id"]: line for line in lines if line["message"].startswith("served")
    }
    assert len(served) == 20
    for n in range(20):
        line = served[f"c{n}"]
        assert line["tenant"] == f"t{n}" and line["message"] == f"served {n}"
        assert line["status"] == 200 and line["function"] == "handler"
    [failure] = [line for line in lines if line["correlation_id"] == "boom"]
    assert failure["level"] == "ERROR" and "ZeroDivisionError" in failure["exception"]
    # Closed twice at exit (our atexit hook, then logging.shutdown): quietly, the second a no-op.
    assert "Exception ignored" not in result.stderr


def test_lines_are_written_while_the_process_runs_even_after_another_logging_set_up() -> None:
    # uvicorn's default set-up is a dictConfig, which closes every handler there is.
    script = """
import logging, logging.config, sys, time
from shared.logs import configure_json_logging
configure_json_logging()
log = logging.getLogger("stelly.test")
log.warning("before")
time.sleep(0.3)
logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
log.warning("after")
print("waiting", flush=True)
sys.stdin.read()
"""
    repo = Path(__file__).resolve().parent.parent
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=repo, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    lines: list[str] = []
    reading = threading.Thread(target=lambda: lines.extend(child.stderr), daemon=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "waiting\n"
        reading.start()
        deadline = time.monotonic() + 5
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        # Both written while the process still runs, not when it ends.
        assert [json.loads(line)["message"] for line in lines] == ["before", "after"]
    finally:
        child.kill()
        child.wait()


def test_log_times_keep_the_leading_zeros_of_their_milliseconds() -> None:
    """Log times keep three digits of milliseconds: 42 ms is `.042Z`, never `.42Z`."""
    record = logging.LogRecord("stelly.test", logging.INFO, __file__, 1, "hello", None, None)
    record.created = 1_700_000_000.042
    line = json.loads(JsonFormatter().format(record))
    assert line["time"] == "2023-11-14T22:13:20.042Z"
    record.created = 1_700_000_000.5
    assert json.loads(JsonFormatter().format(record))["time"] == "2023-11-14T22:13:20.500Z"


def test_a_line_logged_outside_any_request_carries_no_null_context_fields() -> None:
    """A line logged outside any request carries no null context fields; inside one it names the
    correlation id, tenant and function."""
    record = logging.LogRecord("stelly.test", logging.INFO, __file__, 1, "swept", None, None)
    record.duration_ms = 3
    assert ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "swept" and line["duration_ms"] == 3
    assert not {"correlation_id", "tenant", "function"} & set(line)
    with log_context(correlation_id="c-1", tenant="shop", function="sweep"):
        inside = logging.LogRecord("stelly.test", logging.INFO, __file__, 1, "x", None, None)
        ContextFilter().filter(inside)
    line = json.loads(JsonFormatter().format(inside))
    assert (line["correlation_id"], line["tenant"], line["function"]) == ("c-1", "shop", "sweep")
