"""`make bench`'s command line: a name it does not know runs nothing and keeps the last results;
a selected benchmark runs alone; a failing one fails the run, and a missing dependency is an
error, not a skip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as bench_main

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


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Benchmark modules of our own in a scratch folder, run from there: (role → module name)."""
    tag = uuid.uuid4().hex[:8]
    names = {
        "ok": f"reviewbench_ok_{tag}",
        "other": f"reviewbench_other_{tag}",
        "fails": f"reviewbench_fails_{tag}",
        "broken_import": f"reviewbench_broken_{tag}",
        "unwritten": f"reviewbench_unwritten_{tag}",
    }
    sources = {
        "ok": 'from bench.report import row\ndef run():\n    return [row("ok", "one", 1, "s", "")]',
        "other": 'from bench.report import row\n'
                 'def run():\n    return [row("other", "two", 2, "s", "")]',
        "fails": "def run():\n    raise RuntimeError('boom')",
        "broken_import": f"import reviewbench_missing_dependency_{tag}\ndef run():\n    return []",
    }  # fmt: skip
    for role, source in sources.items():
        (tmp_path / f"{names[role]}.py").write_text(textwrap.dedent(source) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield names
    for name in names.values():
        sys.modules.pop(name, None)


def _saved(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "bench" / "results" / "latest.json").read_text())


def test_a_failing_benchmark_exits_1_with_a_failed_row(
    bench_dir: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """`make bench` fails when a benchmark raised, and the table and saved results say which."""
    monkeypatch.setattr(bench_main, "MODULES", [bench_dir["ok"], bench_dir["fails"]])
    assert bench_main.main([]) == 1
    names = [r["name"] for r in _saved(tmp_path)["results"]]
    assert names == ["one", "FAILED (see traceback above)"]
    assert "FAILED" in capsys.readouterr().out
    monkeypatch.setattr(bench_main, "MODULES", [bench_dir["ok"]])
    assert bench_main.main([]) == 0


def test_selected_benchmarks_run_alone(
    bench_dir: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`BENCH=other` runs that module only."""
    monkeypatch.setattr(bench_main, "MODULES", [bench_dir["ok"], bench_dir["other"]])
    assert bench_main.main([bench_dir["other"]]) == 0
    assert [r["area"] for r in _saved(tmp_path)["results"]] == ["other"]


def test_nothing_run_keeps_the_saved_results(
    bench_dir: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every selected module is not written yet, the last results stay and the exit is 1."""
    results = tmp_path / "bench" / "results" / "latest.json"
    results.parent.mkdir(parents=True)
    results.write_text('{"meta": {}, "results": ["earlier"]}')
    monkeypatch.setattr(bench_main, "MODULES", [bench_dir["unwritten"]])
    assert bench_main.main([]) == 1
    assert results.read_text() == '{"meta": {}, "results": ["earlier"]}'


def test_a_benchmark_missing_a_dependency_is_an_error_not_skipped(
    bench_dir: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a module that does not exist yet is skipped; one whose import fails on a missing
    package stops the run."""
    monkeypatch.setattr(bench_main, "MODULES", [bench_dir["broken_import"]])
    with pytest.raises(ModuleNotFoundError, match="reviewbench_missing_dependency"):
        bench_main.main([])
