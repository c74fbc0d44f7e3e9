"""Image pipeline: a 12-megapixel JPEG → three WebP renditions + placeholder, time and memory.

Measured in a fresh subprocess pinned to one core. Times are the process's CPU time, which on
one core and one thread is its wall time on an idle machine, and stays meaningful when other
work shares the machine. The floor is libwebp alone: encoding the same three sizes from pixels
already decoded, resized and colour-converted, measured alternately with the full runs.

Peak memory is the child's VmHWM: on Linux `ru_maxrss` survives fork+exec, so a child's
getrusage would report at least the RSS this (parent) process had when it started the child.
"""

from __future__ import annotations

import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Row, row

RUNS = 7
WIDTH, HEIGHT = 4000, 3000
REPO = Path(__file__).resolve().parent.parent


def _photo_jpeg() -> bytes:
    """A 4000x3000 JPEG with gradients and fine grain: encodes like a photo, unlike flat colour."""
    from PIL import Image, ImageFilter

    size = (WIDTH, HEIGHT)
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.effect_noise(size, 60).filter(ImageFilter.GaussianBlur(3))
    base = Image.merge("RGB", (red, green, blue))
    grain = Image.merge("RGB", [Image.effect_noise(size, 20)] * 3)
    out = io.BytesIO()
    Image.blend(base, grain, 0.25).save(out, "JPEG", quality=90)
    return out.getvalue()


def _peak_rss_mb() -> float:
    """The peak resident set of this process image (since its exec), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Not Linux: best effort.


def _measure(path: str) -> dict[str, float]:
    """In the child: median full-pipeline and encode-only times, and peak RSS."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from shared.images.decoding import load_upright, open_upload
    from shared.images.limits import RENDITION_WIDTHS
    from shared.images.renditions import encode_webp, render_upload, resize_renditions

    imported_rss = _peak_rss_mb()
    data = Path(path).read_bytes()
    render_upload(data)  # Warm-up: first-call costs (codec set-up, page faults) are not the path.
    resized = resize_renditions(load_upright(open_upload(data), max(RENDITION_WIDTHS)), None)
    full, encode_only = [], []
    for _ in range(RUNS):
        started = time.process_time()
        render_upload(data)
        full.append((time.process_time() - started) * 1000)
        started = time.process_time()
        for rendition in resized:
            encode_webp(rendition)
        encode_only.append((time.process_time() - started) * 1000)
    return {
        "median_ms": statistics.median(full),
        "floor_ms": statistics.median(encode_only),
        "peak_rss_mb": _peak_rss_mb(),
        "imported_rss_mb": imported_rss,
        "jpeg_mb": len(data) / (1024 * 1024),
    }


def run() -> list[Row]:
    """Two rows: median time on one core (floor: libwebp encode only) and peak RSS."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        path.write_bytes(_photo_jpeg())
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_images", str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(child.stdout)
    name = f"12 MP JPEG ({result['jpeg_mb']:.1f} MB) → 3 WebP + placeholder, 1 core"
    return [
        row(
            "images", f"{name}, median", result["median_ms"], "ms", "< 700 ms",
            floor=result["floor_ms"], floor_name="libwebp encode of the 3 resized images",
        ),
        row(
            "images", "peak RSS of that process", result["peak_rss_mb"], "MB", "< 350 MB",
            floor=result["imported_rss_mb"], floor_name="Python + Pillow before any image",
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(_measure(sys.argv[1])))
