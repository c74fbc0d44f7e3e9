"""The README's example walks run as written: each `sh` block a new engineer pastes after `make
dev` runs under bash against devhost, serving a restaurant furnished as `make dev` furnishes its
demo, and every request in it answers 2xx or 3xx (curl --fail-with-body). Only what cannot be the
same here is changed: devhost's port, the demo's slug, and tokens from the tests' identity
instead of `python -m devhost token`, which signs with `make dev`'s key."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from devhost.demo import ensure_demo_tenant
from tests.conftest import IDENTITY
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    unique_slug,
)

pytestmark = pytest.mark.devhost

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
# Every request must succeed: a 4xx or 5xx stops the walk, its answer on stderr.
PRELUDE = """set -euo pipefail
curl() {
  local answer status=0
  answer=$(command curl --fail-with-body --max-time 30 "$@") || status=$?
  if [ "$status" != 0 ]; then echo "curl $* → exit $status: $answer" >&2; return "$status"; fi
  printf '%s\\n' "$answer"
}
"""
_TOKEN = re.compile(r"\$\(\.venv/bin/python -m devhost token --role (\w+)(?: --tenant demo)?\)")


def _block_after(heading: str, *, stop: str | None = None) -> str:
    """The first `sh` block after heading (up to the line starting with stop, if given)."""
    text = README.read_text()
    opening = text.index("```sh\n", text.index(heading)) + len("```sh\n")
    block = text[opening : text.index("```", opening)]
    return block[: block.index(stop)] if stop else block


def _here(script: str, host: PlatformHost, slug: str) -> str:
    """script as it runs against this devhost, on slug instead of the demo."""
    port = urlsplit(host.process.base_url).port

    def token(match: re.Match[str]) -> str:
        role = match.group(1)
        return IDENTITY.mint(role=role, tenant=None if role == "platform_admin" else slug)

    script = _TOKEN.sub(token, script)
    script = script.replace("demo.localhost:7071", f"{slug}.localhost:{port}")
    return script.replace("127.0.0.1:7071", f"127.0.0.1:{port}")


def _run(script: str) -> str:
    assert shutil.which("curl") and shutil.which("bash"), "the README's examples need curl and bash"
    done = subprocess.run(
        ["bash", "-c", PRELUDE + script], cwd=REPO, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _demo(host: PlatformHost) -> str:
    """A restaurant as `make dev` leaves its demo: provisioned, settings, a published menu."""
    slug = unique_slug("readme")
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    asyncio.run(ensure_demo_tenant(devhost, slug))
    return slug


def test_the_storefront_and_orders_walks_run_as_written(host: PlatformHost) -> None:
    """ "Example requests" (settings, theme, menu rows, import, publish, 86 and back) and then
    "The flow, with example requests" (a table, an order, its cancel, the kitchen's moves, the
    manager's day), pasted one after the other as the README says."""
    slug = _demo(host)
    storefront = _block_after("### Example requests")
    orders = _block_after("### The flow, with example requests")

    out = _run(_here(storefront + orders, host, slug))

    assert '"ticket_number":"#0001"' in out
    assert '"status":"cancelled"' in out and '"status":"accepted"' in out


def test_the_platform_walk_runs_as_written(host: PlatformHost) -> None:
    """Create a restaurant, wait for it, list and read it, suspend and reinstate it, delete it.
    (The fleet migration at the end of the block would migrate every test's restaurant: its
    request is covered by tests/test_fleet_migration.py.)"""
    slug = unique_slug("roma")
    platform = _block_after("Restaurants: provisioning, deletion", stop="# Migrate every")
    assert "SLUG=pizza-roma" in platform

    out = _run(_here(platform.replace("SLUG=pizza-roma", f"SLUG={slug}"), host, slug))

    assert f"/operations/deprovision-{slug}" in out
