"""Rows every bench module returns, and the table/JSON `make bench` prints."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any, TypedDict


class Row(TypedDict):
    area: str
    name: str
    value: float
    unit: str
    goal: str
    floor: float | None
    floor_name: str | None


def row(
    area: str,
    name: str,
    value: float,
    unit: str,
    goal: str,
    *,
    floor: float | None = None,
    floor_name: str | None = None,
) -> Row:
    return Row(
        area=area, name=name, value=round(value, 3), unit=unit, goal=goal,
        floor=None if floor is None else round(floor, 3), floor_name=floor_name,
    )  # fmt: skip


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(samples)
    # The smallest value with at least p% of the samples at or below it.
    index = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def _ratio(r: Row) -> str:
    if not r["floor"]:
        return ""
    return f"{r['value'] / r['floor'] * 100:.0f}%"


def render_table(rows: list[Row]) -> str:
    headers = ["area", "benchmark", "result", "goal", "floor", "vs floor"]
    table = [
        [
            r["area"],
            r["name"],
            f"{r['value']:g} {r['unit']}",
            r["goal"],
            f"{r['floor']:g} {r['unit']} ({r['floor_name']})" if r["floor"] is not None else "",
            _ratio(r),
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *table, strict=False)]

    def line(cells: list) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(cells) for cells in table]
    return "\n".join(out)


def save_json(rows: list[Row], path: Path, meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
