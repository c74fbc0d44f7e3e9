"""The table `make bench` prints and the numbers in it: shares of the floor, rounding, widths,
percentiles and medians, and what wrk's report is read as (a `wrk` on PATH that prints wrk's
report: the load generator itself is not under test)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from bench.load import wrk, wrk_alternating
from bench.report import median, percentile, render_table, row


def test_vs_floor_is_the_result_as_a_share_of_the_floor() -> None:
    """5,000 req/s against a bare 20,000 is 25%, not 400%."""
    table = render_table([row("storefront", "menu", 5000, "req/s", ">= 70%", floor=20000,
                              floor_name="bare uvicorn")])  # fmt: skip
    last = table.splitlines()[-1]
    cells = [cell.strip() for cell in last.strip("|").split("|")]
    assert cells == ["storefront", "menu", "5000 req/s", ">= 70%",
                     "20000 req/s (bare uvicorn)", "25%"]  # fmt: skip


def test_a_zero_floor_prints_without_a_ratio() -> None:
    """A floor measured as 0 is printed, without a share (no division by zero losing the
    whole table)."""
    table = render_table([row("hub", "latency", 2.5, "ms", "< 10 ms", floor=0, floor_name="sdk")])
    cells = [cell.strip() for cell in table.splitlines()[-1].strip("|").split("|")]
    assert cells[4:] == ["0 ms (sdk)", ""]


def test_rows_keep_three_decimals_of_result_and_floor() -> None:
    """A 2.3456 ms p95 against a 1.2344 ms floor prints as 2.346 and 1.234."""
    r = row("hub", "p95", 2.3456, "ms", "< 10 ms", floor=1.2344, floor_name="sdk")
    assert (r["value"], r["floor"]) == (2.346, 1.234)
    assert "2.346 ms" in render_table([r]) and "1.234 ms (sdk)" in render_table([r])


def test_every_table_line_is_as_wide_as_the_header() -> None:
    """The markdown table's columns stay aligned, its separator line included."""
    table = render_table([
        row("devhost", "launch", 1.5, "s", "< 3 s"),
        row("orders", "creation", 210, "orders/s", ">= 40%", floor=900, floor_name="pgbench"),
    ])  # fmt: skip
    widths = {len(line) for line in table.splitlines()}
    assert len(widths) == 1, table


def test_percentile_is_the_nearest_rank() -> None:
    """The smallest sample with at least p% of the samples at or below it: p0 is the smallest,
    p100 the largest, and p95 of 20 samples the 19th."""
    samples = [3.0, 1.0, 2.0, 5.0, 4.0]
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 5.0
    assert percentile([float(n) for n in range(20, 0, -1)], 95) == 19.0
    assert percentile([4.0, 2.0, 3.0, 1.0], 50) == 2.0


def test_median_is_the_middle_of_the_sorted_samples_not_the_mean() -> None:
    """One slow launch out of three does not move the printed median, whichever run it was."""
    assert median([9.0, 1.0, 1.2]) == 1.2
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


FAKE_WRK = '''\
#!{python}
"""Prints what wrk prints; the URL's last segment picks the numbers, a counter file the round."""
import pathlib, sys
args = sys.argv[1:]
url = (args[:args.index("--")] if "--" in args else args)[-1]
name = url.rsplit("/", 1)[-1]
count = pathlib.Path(__file__).with_name("count-" + name)
n = int(count.read_text()) if count.exists() else 0
count.write_text(str(n + 1))
table = {{
    "hosted": [("1000.00", "2.00ms", "900", "9.00ms"), ("1100.00", "2.50ms", "950", "9.50ms"),
               ("5000.00", "40.00ms", "1000", "1.00s")],
    "floor": [("3000.00", "500.00us", "400", "3.00ms"), ("2000.00", "600.00us", "300", "4.00ms"),
              ("2500.00", "700.00us", "350", "5.00ms")],
    "broken": [("100.00", "1.00ms", "100", "2.00ms")],
}}
rounds = table[name]
rps, p50, p95_us, p99 = rounds[n % len(rounds)]
print(f"""Running 3s test @ {{url}}
  1 threads and 50 connections
  Latency Distribution
     50%   {{p50}}
     75%   {{p50}}
     90%   77.00ms
     99%   {{p99}}
  3000 requests in 3.00s, 1.00MB read
Requests/sec:   {{rps}}
Transfer/sec:      1.00MB
p95_us: {{p95_us}}""")
if name == "broken":
    print("  Non-2xx or 3xx responses: 12")
'''


@pytest.fixture
def fake_wrk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `wrk` on PATH that prints wrk's report (the load generator itself is not under test)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "wrk"
    script.write_text(FAKE_WRK.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_turn_about_rounds_report_each_sides_median(fake_wrk: Path) -> None:
    """Three alternating rounds a side: each metric is that side's median (an outlier round
    moves nothing), p95 from wrk's µs line, p99 from its 99% line, µs read as µs."""
    hosted, floor = wrk_alternating("http://127.0.0.1:1/hosted", "http://127.0.0.1:1/floor")
    # Medians of three rounds per metric, one outlier round on the hosted side.
    assert hosted.requests_per_s == 1100.0
    assert hosted.p50_ms == 2.5
    assert hosted.p95_ms == 0.95
    assert hosted.p99_ms == 9.5
    assert floor.requests_per_s == 2500.0
    assert floor.p50_ms == pytest.approx(0.6)
    assert floor.p95_ms == 0.35
    assert floor.p99_ms == 4.0
    assert (fake_wrk / "count-hosted").read_text() == "3"
    assert (fake_wrk / "count-floor").read_text() == "3"


def test_wrk_refuses_a_run_with_error_responses(fake_wrk: Path) -> None:
    """A run where the server answered errors is refused, not printed as the app's
    throughput."""
    with pytest.raises(RuntimeError, match="error responses"):
        wrk("http://127.0.0.1:1/broken", seconds=1)
