"""Serve a DurableEngine for one app in a process of its own (the crash/resume test kills it).

    python -m tests.devhost.durable_engine_proc --app tests.devhost.durable_fixture_app:app \
        --hub <hub> --port <port>
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os

from devhost.durable import DurableEngine
from devhost.durable.standalone import serving


async def serve_forever(engine: DurableEngine, port: int) -> None:
    """Serve until the process is signalled or killed."""
    async with serving(engine, port):
        await asyncio.Event().wait()


def main() -> None:
    """Parse arguments, load the app and serve its engine."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", required=True, help="module:attribute of the DFApp")
    parser.add_argument("--hub", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    module, _, attribute = args.app.partition(":")
    app = getattr(importlib.import_module(module), attribute or "app")
    engine = DurableEngine(
        app.get_functions(),
        os.environ["AzureWebJobsStorage"],
        args.hub,
        base_url=f"http://127.0.0.1:{args.port}",
    )
    asyncio.run(serve_forever(engine, args.port))


if __name__ == "__main__":
    main()
