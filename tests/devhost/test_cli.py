"""`python -m devhost`'s options mean the same before and after the `serve` command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from devhost.__main__ import _parser
from devhost.identity import DevIdentity
from devhost.services import free_port, short_data_dir
from tests.conftest import TEST_SETTINGS
from tests.devhost.devhost_process import REPO, DevhostProcess, start_devhost
from tests.tenant_fixtures import TenantFactory


@pytest.mark.parametrize(
    ("argv", "port", "no_demo"),
    [
        ([], 7071, False),
        (["--port", "9001"], 9001, False),
        (["serve", "--port", "9002"], 9002, False),
        (["--port", "9003", "serve"], 9003, False),
        (["--no-demo", "serve", "--port", "9004"], 9004, True),
    ],
)
def test_serve_options_anywhere(argv: list[str], port: int, no_demo: bool) -> None:
    args = _parser().parse_args(argv)
    assert (args.port, args.no_demo) == (port, no_demo)


@pytest.mark.parametrize(
    ("argv", "data_dir"),
    [
        (["token", "--role", "platform_admin"], REPO / ".local" / "dev"),
        (["--data-dir", "/tmp/a", "token", "--role", "platform_admin"], Path("/tmp/a")),
        (["token", "--role", "platform_admin", "--data-dir", "/tmp/b"], Path("/tmp/b")),
        (["migrate"], REPO / ".local" / "dev"),
        (["--data-dir", "/tmp/c", "migrate"], Path("/tmp/c")),
        (["migrate", "--data-dir", "/tmp/d"], Path("/tmp/d")),
    ],
)
def test_token_and_migrate_take_the_data_dir_anywhere(argv: list[str], data_dir: Path) -> None:
    """A devhost started with --data-dir is reached by its token and migrate commands, the
    option given before the command or after it."""
    assert _parser().parse_args(argv).data_dir == data_dir


def _shell_env(**extra: str) -> dict[str, str]:
    """A shell's environment: none of the app settings the test session exported, only the
    services (as `DATABASE_URL=... make dev` / `make test` would give) plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_SETTINGS}
    return {**env, **extra}


def _start_with_shell_env(data_dir: Path, port: int, **extra: str) -> DevhostProcess:
    """`python -m devhost serve --port <port> --pubsub-port <free>` with a shell's environment
    (services only, so the settings come from local.settings.example.json as for `make dev`)."""
    saved = dict(os.environ)
    shell = _shell_env(**extra)
    try:
        os.environ.clear()
        os.environ.update(shell)
        return start_devhost(
            data_dir,
            app="function_app:app",
            app_dir=REPO,
            port=port,
            ready_path="/api/health",
            args=("--no-services", "--no-migrate"),
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _banner_token(process: DevhostProcess, name: str, timeout_s: float = 15) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(rf"export {name}=(\S+)", process.log.read_text())
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no {name} token in the banner:\n{process.log.read_text()[-2000:]}")


def test_migrate_runs_from_a_shell_with_the_local_settings(migrated_public: None) -> None:
    # `python -m devhost migrate` applies local.settings(.example).json as serve does; the
    # database in the environment wins, as for `make dev`.
    done = subprocess.run(
        [sys.executable, "-m", "devhost", "migrate"],
        cwd=REPO,
        env=_shell_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-600:]
    assert re.search(r"\d+/\d+ schemas current, \d+ skipped, 0 failed", done.stdout), done.stdout


def test_shared_migrate_without_settings_says_so_in_a_line() -> None:
    env = {k: v for k, v in _shell_env().items() if k != "AzureWebJobsStorage"}
    done = subprocess.run(
        [sys.executable, "-m", "shared.migrate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "devhost migrate" in done.stderr


def test_devhost_on_another_port_verifies_its_own_tokens(
    migrated_public: None, tmp_path: Path
) -> None:
    # The settings file names the JWKS on :7071; on another port devhost serves its own.
    process = _start_with_shell_env(tmp_path / "dev", free_port())
    try:
        platform = _banner_token(process, "PLATFORM")
        answer = httpx.get(
            f"{process.base_url}/api/v1/platform/tenants",
            headers={"Authorization": f"Bearer {platform}"},
            timeout=15,
        )
        assert answer.status_code == 200, answer.text
    finally:
        process.stop()


def test_devhost_on_another_pubsub_port_negotiates_that_port(
    tenants: TenantFactory, tmp_path: Path
) -> None:
    # The hub runs on --pubsub-port: negotiate (and the outbox) must use that port too.
    shop = tenants.create()
    port = free_port()
    issuer, audience = "http://localhost:7071/", "api://stelly"
    process = _start_with_shell_env(tmp_path / "dev", port)
    try:
        identity = DevIdentity(
            issuer=issuer,
            audience=audience,
            key_path=tmp_path / "dev" / "identity" / "signing-key.pem",
        )
        staff = identity.mint(role="staff", tenant=shop.slug)
        answer = httpx.get(
            f"{process.base_url}/api/v1/kitchen/negotiate",
            headers={"Authorization": f"Bearer {staff}", "Host": f"{shop.slug}.stelly.test"},
            timeout=15,
        )
        assert answer.status_code == 200, answer.text
        url = answer.json()["url"]
        assert urlsplit(url).port == process.pubsub_port, url
    finally:
        process.stop()


def _devhost_in_checkout(checkout: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """`python -m devhost *argv` as run in checkout (its example settings, its .local), with an
    environment holding no app settings, as a developer's shell does."""
    shutil.copy(REPO / "local.settings.example.json", checkout)
    code = (
        f"import sys; sys.path[0] = {str(REPO)!r}; from pathlib import Path; "
        "import devhost.__main__ as m; "
        f"m.REPO = Path({str(checkout)!r}); sys.argv = {['devhost', *argv]!r}; "
        "sys.exit(m.main())"
    )
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("options", "data_dir"), [((), ".local/dev"), (("--data-dir", "{tmp}/elsewhere"), "elsewhere")]
)
def test_devhost_migrate_finds_make_devs_database_by_its_socket(
    tmp_path: Path, options: tuple[str, ...], data_dir: str
) -> None:
    # A checkout whose `make dev` Postgres is this run's server: the example settings' relative
    # socket folder is no path libpq takes, so the command must find the folder itself (in the
    # data folder devhost was started with).
    socket_dir = re.search(r"host=([^&]+)", os.environ["DATABASE_URL"]).group(1)
    pg = short_data_dir(tmp_path / data_dir / "pg")  # where devhost would put it
    pg.parent.mkdir(parents=True, exist_ok=True)
    pg.symlink_to(socket_dir)
    try:
        argv = [*(option.format(tmp=tmp_path) for option in options), "migrate"]
        run = _devhost_in_checkout(tmp_path, argv)
    finally:
        pg.unlink()
    assert run.returncode == 0, run.stderr[-600:]
    assert "0 failed" in run.stdout


def test_devhost_token_signs_with_the_key_in_its_data_dir(tmp_path: Path) -> None:
    """A devhost started with --data-dir verifies tokens with that folder's key, so `token
    --data-dir` signs with it."""
    values = json.loads((REPO / "local.settings.example.json").read_text())["Values"]
    data_dir = tmp_path / "elsewhere"
    identity = DevIdentity(
        issuer=values["AUTH_ISSUER"], audience=values["AUTH_AUDIENCE"],
        key_path=data_dir / "identity" / "signing-key.pem",
    )  # fmt: skip

    run = _devhost_in_checkout(
        tmp_path, ["token", "--role", "platform_admin", "--data-dir", str(data_dir)]
    )

    assert run.returncode == 0, run.stderr[-600:]
    claims = jwt.decode(
        run.stdout.strip(), identity.public_pem(), algorithms=["RS256"],
        audience=values["AUTH_AUDIENCE"], issuer=values["AUTH_ISSUER"],
    )  # fmt: skip
    assert claims["roles"] == ["platform_admin"]


def test_the_banner_names_where_postgres_keeps_a_long_clone_paths_data() -> None:
    # A Unix socket path must stay short, so a long clone keeps Postgres under /tmp: "remove
    # .local/dev for a fresh demo" must tell the developer about that folder too.
    from devhost.dev_stack import _data_folders

    clone = Path("/home/alexandra.vandenberg/src/github.com/stelly-restaurants/stelly-backend")
    data = clone / ".local" / "dev"
    assert _data_folders(data) == f"{data} and {short_data_dir(data / 'pg')} (Postgres)"
    assert _data_folders(Path(".local/dev")) == ".local/dev"
