"""`make bench`'s command line: a name it does not know runs nothing and keeps the last results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_a_misspelt_benchmark_fails_and_keeps_the_saved_results(tmp_path: Path) -> None:
    # It used to run nothing, exit 0 and save an empty latest.json over the last run's numbers.
    results = tmp_path / "bench" / "results" / "latest.json"
    results.parent.mkdir(parents=True)
    earlier = json.dumps({"meta": {"time": 1}, "results": [["storefront", "config", "5,000"]]})
    results.write_text(earlier)
    # What `make bench BENCH=storefrnt` runs once the services are up, from a scratch folder so
    # the repo's own results stay as they are.
    run = subprocess.run(
        [sys.executable, "-m", "bench", "storefrnt"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "unknown benchmark: storefrnt" in run.stderr
    assert "storefront" in run.stderr  # the names it knows
    assert results.read_text() == earlier
