"""JSON logs: each line carries the request context of the thread that logged it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
