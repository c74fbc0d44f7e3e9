"""`make dev`: local services, migrations, devhost, the demo tenant and a banner, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devhost.host_config import apply_local_settings, load_local_settings
from devhost.server import DevHost, DevHostOptions
from devhost.services import (
    DEFAULT_AZURITE_PORTS,
    azurite,
    embedded_postgres,
    exit_on_signal,
    short_data_dir,
)

DEMO_SLUG = "demo"


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def start_services(stack: contextlib.ExitStack, data_dir: Path, explicit: set[str]) -> None:
    """Start Postgres and Azurite unless the environment (not the settings file) names them."""
    if "DATABASE_URL" not in explicit:
        os.environ["DATABASE_URL"] = stack.enter_context(
            embedded_postgres(data_dir / "pg", keep=True)
        )
    if "AzureWebJobsStorage" not in explicit:
        if not _listening(DEFAULT_AZURITE_PORTS.blob):
            stack.enter_context(azurite(data_dir / "azurite", DEFAULT_AZURITE_PORTS, keep=True))
        os.environ["AzureWebJobsStorage"] = DEFAULT_AZURITE_PORTS.connection_string()


def _data_folders(data_dir: Path) -> str:
    """Where make dev keeps its state: Postgres moves out to /tmp for a long clone path."""
    postgres = short_data_dir(data_dir / "pg")
    inside = postgres.is_relative_to(data_dir)
    return str(data_dir) if inside else f"{data_dir} and {postgres} (Postgres)"


def banner(host: DevHost, options: DevHostOptions, settings_file: Path | None) -> str:
    identity = host.identity
    port = options.port
    lines = [
        "",
        "Stelly devhost is running (Ctrl-C stops everything it started)",
        f"  settings         {settings_file}",
        f"  data             {_data_folders(options.data_dir)}",
        f"  API base         http://localhost:{port}/api",
        f"  API description  http://localhost:{port}/api/openapi.json",
        f"  health           http://localhost:{port}/api/health",
        f"  demo storefront  http://{DEMO_SLUG}.localhost:{port}/api/v1/store/config",
        f"  Web PubSub       http://localhost:{options.pubsub_port} (hub "
        f"{os.environ.get('WEBPUBSUB_HUB', 'kitchen')})",
        f"  durable API      http://localhost:{port}/runtime/webhooks/durabletask/instances",
        f"  JWKS             http://localhost:{port}/.well-known/jwks.json",
    ]
    if host.workers is not None:
        pids = ", ".join(str(worker.pid) for worker in host.workers.workers)
        lines.append(f"  HTTP functions   in language worker processes {pids}")
    if identity is not None:
        lines += [
            "",
            "Dev tokens (8 h; more with"
            " `.venv/bin/python -m devhost token --role platform_admin|owner|manager|staff"
            " --tenant SLUG`):",
            f"  export PLATFORM={identity.mint(role='platform_admin')}",
            f"  export OWNER={identity.mint(role='owner', tenant=DEMO_SLUG)}",
            f"  export KITCHEN={identity.mint(role='staff', tenant=DEMO_SLUG)}",
        ]
    return "\n".join(lines) + "\n"


async def _serve(options: DevHostOptions, settings_file: Path | None, demo: bool) -> None:
    host = DevHost(options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
        loop.add_signal_handler(sig, host.stop)

    announcing: list[asyncio.Task[None]] = []

    def ready() -> None:
        announcing.append(loop.create_task(_announce(host, options, settings_file, demo)))

    await host.run(on_ready=ready)


async def _announce(host: DevHost, options: DevHostOptions, file: Path | None, demo: bool) -> None:
    if demo:
        from devhost.demo import ensure_demo_tenant

        try:
            await ensure_demo_tenant(host, DEMO_SLUG)
        except Exception as error:  # the host keeps running; say what failed
            print(f"demo tenant could not be set up: {error}", flush=True)
    print(banner(host, options, file), flush=True)


def event_loop_factory():
    """uvloop when installed (as uvicorn itself picks), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def follow_ports(applied: list[str], options: DevHostOptions) -> None:
    """Settings taken from the file that name devhost's default ports follow --port and
    --pubsub-port: the JWKS devhost serves and the hub it starts are where they say. A value
    set in the environment is left as it is."""
    if "AUTH_JWKS_URL" in applied:
        os.environ["AUTH_JWKS_URL"] = _with_port(os.environ["AUTH_JWKS_URL"], 7071, options.port)
    if "WEBPUBSUB_CONNECTION" in applied and options.pubsub_port is not None:
        connection = os.environ["WEBPUBSUB_CONNECTION"]
        endpoint = re.search(r"Endpoint=([^;]+)", connection)
        if endpoint:
            moved = f"Endpoint={_with_port(endpoint.group(1), 7072, options.pubsub_port)}"
            os.environ["WEBPUBSUB_CONNECTION"] = connection.replace(endpoint.group(0), moved)


def _with_port(url: str, default: int, port: int) -> str:
    """url with port instead of default, when it names a loopback host on default."""
    parts = urlsplit(url)
    if parts.port != default or parts.hostname not in ("localhost", "127.0.0.1"):
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def run_dev(options: DevHostOptions, *, migrate: bool, demo: bool, services: bool) -> None:
    """Everything `make dev` does, in order; returns when Ctrl-C has stopped it all."""
    # While services start and migrations run (before the loop's handlers), SIGTERM or a closed
    # terminal would end Python without unwinding the stack, leaving Postgres and Azurite up.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, exit_on_signal)
    explicit = {name for name in ("DATABASE_URL", "AzureWebJobsStorage") if os.environ.get(name)}
    settings_file, values = load_local_settings(options.app_dir)
    follow_ports(apply_local_settings(values), options)
    with contextlib.ExitStack() as stack:
        if services:
            start_services(stack, options.data_dir, explicit)
        if migrate:
            from shared.migrate import migrate_all

            migrate_all()
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(_serve(options, settings_file, demo))
