"""`make bench`: run every benchmark module, print one table, save bench/results/latest.json."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from bench.report import Row, render_table, row, save_json
from devhost.host_config import apply_local_settings, load_local_settings

MODULES = [
    "bench.bench_devhost",
    "bench.bench_hub",
    "bench.bench_durable",
    "bench.bench_blob_trigger",
    "bench.bench_storefront",
    "bench.bench_orders",
    "bench.bench_images",
    "bench.bench_provisioning",
]


def _names() -> list[str]:
    return [name.removeprefix("bench.bench_") for name in MODULES]


def main(selected: list[str]) -> int:
    unknown = [name for name in selected if name not in _names()]
    if unknown:
        # A misspelt name ran nothing and saved an empty latest.json over the last results.
        print(f'usage: make bench [BENCH="{" ".join(_names())}"]', file=sys.stderr)
        print(f"unknown benchmark: {', '.join(unknown)}", file=sys.stderr)
        return 2
    # Benchmarks that call shared/ in-process need the app settings, as devhost loads them.
    apply_local_settings(load_local_settings(Path.cwd())[1])
    rows: list[Row] = []
    failed = 0
    for name in MODULES:
        short = name.removeprefix("bench.bench_")
        if selected and short not in selected:
            continue
        started = time.perf_counter()
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:
                continue  # benchmark not written yet
            raise
        try:
            rows += module.run()
        except Exception:
            failed += 1
            traceback.print_exc()
            rows.append(row(short, "FAILED (see traceback above)", 0, "", ""))
        print(f"[bench] {short}: {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    print(render_table(rows))
    if not rows:
        return 1  # nothing ran: the saved results stay
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "time": time.time()}
    save_json(rows, Path("bench/results/latest.json"), meta)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
