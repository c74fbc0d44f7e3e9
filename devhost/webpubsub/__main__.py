"""`python -m devhost.webpubsub`: serve the local Web PubSub hub in a process of its own.

devhost starts it as a child on a socket devhost has bound (`--fd`; see devhost/hub_process.py),
as Azure Web PubSub is a service of its own: verifying each REST call's token and fanning frames
out then never competes with function code for devhost's GIL. The access key arrives as stdin's
first line, so it never shows in the process list; the hub exits as soon as stdin closes, so it
never outlives a devhost that was killed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading

import uvicorn

from devhost.webpubsub.app import create_hub_app, hub_server_config

# Connections get this long to close when the hub is asked to stop.
GRACEFUL_SHUTDOWN_S = 2


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()  # returns at end of file: the parent closed the pipe or died
    os._exit(0)


def serve(key: str, *, bind: str, port: int, fd: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM, on fd (an inherited listening socket) or else bind:port."""
    config = hub_server_config(
        create_hub_app(key),
        host=bind,
        port=port,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = uvicorn.Server(config)

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    # Ctrl-C in devhost's terminal reaches this process too. uvicorn's own handlers would
    # re-raise it as KeyboardInterrupt after shutting down, a traceback at every Ctrl-C.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    server.run(sockets=None if fd is None else [socket.socket(fileno=fd)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devhost.webpubsub",
        description="Serve devhost's Web PubSub hub. Reads the access key from stdin's first "
        "line and exits when stdin closes.",
    )
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=7072, help="port (7072)")
    parser.add_argument(
        "--fd", type=int, help="serve this inherited listening socket instead (devhost's way)"
    )
    args = parser.parse_args(argv)
    key = sys.stdin.readline().strip()
    if not key:
        parser.error("expected the hub's access key as the first line on stdin")
    threading.Thread(target=_exit_when_stdin_closes, name="stdin-watch", daemon=True).start()
    serve(key, bind=args.bind, port=args.port, fd=args.fd)


if __name__ == "__main__":
    main()
