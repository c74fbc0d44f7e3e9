"""`python -m devhost [serve|token]` — run the Function app locally, or mint a dev token."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from devhost.host_config import apply_local_settings, load_local_settings

REPO = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description=(
            "Run function_app.py locally without Azure Functions Core Tools: HTTP on --port, "
            "the Web PubSub hub on --pubsub-port (a child process, `python -m devhost.webpubsub`), "
            "durable orchestrations, blob and timer "
            "triggers, with embedded Postgres and Azurite unless DATABASE_URL / "
            "AzureWebJobsStorage are set in the environment. Settings come from "
            "local.settings.json (else local.settings.example.json), like `func start`. "
            "FUNCTIONS_WORKER_PROCESS_COUNT=N (1-10) in the environment runs HTTP functions in N "
            "language worker processes (`python -m devhost.language_worker`), as the host does."
        ),
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the app (the default command)")
    _serve_arguments(serve)
    # A subcommand's defaults overwrite options given before it (`--port 9000 serve`): after
    # `serve`, only options actually given count; the defaults come from the main parser.
    for action in serve._actions:
        action.default = argparse.SUPPRESS
    _serve_arguments(parser)
    token = sub.add_parser("token", help="print a bearer token signed by the dev identity")
    roles = ["platform_admin", "owner", "manager", "staff"]
    token.add_argument("--role", required=True, choices=roles)
    token.add_argument("--tenant", help="restaurant slug (required for owner, manager, staff)")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds (8 h)")
    migrate = sub.add_parser(
        "migrate",
        help="migrate public and every active or suspended restaurant, with the app's local "
        "settings (`make dev`'s database while it runs, found in --data-dir)",
    )
    # As for serve: --data-dir before or after the command; the main parser holds the default.
    for command in (token, migrate):
        command.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    return parser


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the app")
    parser.add_argument("--app-dir", type=Path, default=REPO, help="folder of host.json (repo)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (7071)")
    parser.add_argument("--pubsub-port", type=int, default=7072, help="Web PubSub port (7072)")
    parser.add_argument(
        "--data-dir", type=Path, default=REPO / ".local" / "dev",
        help="Postgres, Azurite and dev-identity data (.local/dev)",
    )  # fmt: skip
    parser.add_argument(
        "--no-services", action="store_true",
        help="require DATABASE_URL and AzureWebJobsStorage in the environment; start neither",
    )  # fmt: skip
    parser.add_argument("--no-demo", action="store_true", help="do not set up the demo tenant")
    parser.add_argument(
        "--no-migrate", action="store_true", help="skip `shared.migrate` (implies --no-demo)"
    )


def _token(args: argparse.Namespace) -> int:
    if args.role != "platform_admin" and not args.tenant:
        print("--tenant is required for restaurant roles", file=sys.stderr)
        return 2
    apply_local_settings(load_local_settings(REPO)[1])
    from devhost.server import dev_identity

    identity = dev_identity(args.data_dir)
    if identity is None:
        print("AUTH_ISSUER and AUTH_AUDIENCE must be set", file=sys.stderr)
        return 2
    print(identity.mint(role=args.role, tenant=args.tenant, ttl_s=args.ttl))
    return 0


def _migrate(data_dir: Path) -> int:
    explicit = bool(os.environ.get("DATABASE_URL"))
    apply_local_settings(load_local_settings(REPO)[1])
    if not explicit:
        # `make dev`'s embedded Postgres, by its socket folder (moved under /tmp when the repo's
        # path is too long for a socket): the example's relative `host=` is no socket path.
        from devhost.services import short_data_dir

        socket_dir = short_data_dir(data_dir / "pg")
        os.environ["DATABASE_URL"] = f"postgresql://postgres:@/postgres?host={socket_dir}"
    from shared.migrate import main as migrate_main

    return migrate_main()


def main() -> int:
    args = _parser().parse_args()
    if args.command == "token":
        return _token(args)
    if args.command == "migrate":
        return _migrate(args.data_dir)
    from devhost.dev_stack import run_dev
    from devhost.errors import StartupError
    from devhost.server import DevHostOptions
    from shared.logs import configure_json_logging

    configure_json_logging()
    options = DevHostOptions(
        app_ref=args.app,
        app_dir=args.app_dir.resolve(),
        bind=args.bind,
        port=args.port,
        pubsub_port=args.pubsub_port,
        data_dir=args.data_dir.resolve(),
    )
    os.chdir(options.app_dir)
    try:
        run_dev(
            options,
            migrate=not args.no_migrate,
            demo=not (args.no_demo or args.no_migrate),
            services=not args.no_services,
        )
    except StartupError as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
