"""devhost's start-up as a developer meets it: `exec` and its services, `make dev`'s banner and
demo tenant, the dev signing key, the token CLI, and orchestrator names."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import azure.functions as func
import jwt
import pytest

from devhost.demo import DemoSetupError, ensure_demo_tenant, provision_request
from devhost.dev_stack import banner, follow_ports, start_services
from devhost.durable.registry import FunctionRegistry
from devhost.identity import DevIdentity
from devhost.server import DevHostOptions
from devhost.services import (
    AzuritePorts,
    azurite,
    free_azurite_ports,
    reap_stale_runs,
    short_data_dir,
)
from tests.conftest import AUDIENCE, IDENTITY, ISSUER
from tests.devhost.devhost_process import REPO
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    unique_slug,
)

EXEC = [sys.executable, "-m", "devhost.services", "exec"]


# --- devhost/services.py -------------------------------------------------------------------


def test_exec_exits_with_the_commands_exit_code() -> None:
    """`exec` exits with its command's exit code: `make test` fails when pytest does."""
    done = subprocess.run(
        [*EXEC, "--", sys.executable, "-c", "raise SystemExit(3)"], cwd=REPO, timeout=120
    )
    assert done.returncode == 3


def test_exec_passes_the_environments_services_through_and_starts_none(tmp_path: Path) -> None:
    """`exec` uses the services the environment names (DATABASE_URL, AzureWebJobsStorage) and
    starts none of its own."""
    given = {"DATABASE_URL": "postgresql://someone@db.invalid/theirs",
             "AzureWebJobsStorage": "UseDevelopmentStorage=true;Theirs=1"}  # fmt: skip
    show = "import os; print(os.environ['DATABASE_URL']); print(os.environ['AzureWebJobsStorage'])"
    done = subprocess.run(
        [*EXEC, "--", sys.executable, "-c", show],
        cwd=REPO, env={**os.environ, **given}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-600:]
    assert done.stdout.splitlines() == [given["DATABASE_URL"], given["AzureWebJobsStorage"]]


def test_exec_without_a_command_is_a_usage_error() -> None:
    """`exec` without a command is a usage error, before any service starts."""
    done = subprocess.run([*EXEC, "--"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "exec needs a command" in done.stderr and "Traceback" not in done.stderr


def test_a_kept_azurite_keeps_its_data_and_an_unkept_one_does_not(tmp_path: Path) -> None:
    """`make dev` keeps Azurite's blobs and task hub across Ctrl-C; a test run's Azurite leaves
    nothing behind."""
    kept, dropped = tmp_path / "kept", tmp_path / "dropped"
    with azurite(kept, free_azurite_ports(), keep=True):
        pass
    with azurite(dropped, free_azurite_ports(), keep=False):
        pass
    assert (kept / "azurite.log").exists()
    assert not dropped.exists()


def test_the_connection_string_names_each_service_on_its_own_port() -> None:
    """The exported AzureWebJobsStorage names the blob, queue and table services each on its own
    port."""
    connection = AzuritePorts(11000, 11001, 11002).connection_string()
    parts = dict(part.split("=", 1) for part in connection.split(";") if part)
    assert (parts["BlobEndpoint"], parts["QueueEndpoint"], parts["TableEndpoint"]) == (
        "http://127.0.0.1:11000/devstoreaccount1",
        "http://127.0.0.1:11001/devstoreaccount1",
        "http://127.0.0.1:11002/devstoreaccount1",
    )


def test_reaping_leaves_the_run_of_a_live_exec_alone(tmp_path: Path) -> None:
    """Reaping stale runs leaves a live `exec`'s services and folder alone: a second `make test`
    does not kill the first one's Postgres and Azurite."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    live, dead = tmp_path / str(os.getpid()), tmp_path / str(ended.pid)
    for run_dir in (live, dead):
        (run_dir / "azurite").mkdir(parents=True)
    assert reap_stale_runs(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


# --- devhost/dev_stack.py ------------------------------------------------------------------


def test_make_dev_starts_no_service_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make dev` starts no Postgres when the developer exported DATABASE_URL."""
    for name in ("DATABASE_URL", "AzureWebJobsStorage"):
        monkeypatch.setenv(name, os.environ[name])  # restored whatever happens
    before = {name: os.environ[name] for name in ("DATABASE_URL", "AzureWebJobsStorage")}
    with contextlib.ExitStack() as stack:
        start_services(stack, tmp_path, {"DATABASE_URL", "AzureWebJobsStorage"})
        assert {name: os.environ[name] for name in before} == before
    assert not short_data_dir(tmp_path / "pg").exists()
    assert not (tmp_path / "azurite").exists()


def test_the_banners_tokens_are_the_demos_owner_and_kitchen_staff(tmp_path: Path) -> None:
    """The banner's tokens are accepted on demo.localhost: an owner of the demo tenant and its
    kitchen staff."""
    host = SimpleNamespace(identity=IDENTITY, workers=None)
    text = banner(host, DevHostOptions(data_dir=tmp_path), None)
    tokens = dict(re.findall(r"export (\w+)=(\S+)", text))
    claims = {
        name: jwt.decode(token, IDENTITY.public_pem(), algorithms=["RS256"], audience=AUDIENCE)
        for name, token in tokens.items()
    }
    assert {name: (c["roles"], c.get("tenant")) for name, c in claims.items()} == {
        "PLATFORM": (["platform_admin"], None),
        "OWNER": (["owner"], "demo"),
        "KITCHEN": (["staff"], "demo"),
    }


def test_a_jwks_url_of_another_host_does_not_follow_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only devhost's own JWKS URL follows `--port`: a real provider's URL on port 7071 is left as
    it is."""
    remote = "https://login.example.com:7071/tenant/keys"
    monkeypatch.setenv("AUTH_JWKS_URL", remote)
    follow_ports(["AUTH_JWKS_URL"], DevHostOptions(port=9123, pubsub_port=None))
    assert os.environ["AUTH_JWKS_URL"] == remote


# --- devhost/demo.py -----------------------------------------------------------------------


def _owner_of(slug: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {IDENTITY.mint(role='owner', tenant=slug)}"}


@pytest.mark.devhost
def test_make_dev_publishes_a_demo_menu_an_earlier_run_imported_but_did_not_publish(
    host: PlatformHost,
) -> None:
    """A demo stopped between import and publish gets its menu published by the next `make dev`."""
    slug = unique_slug("demo")
    started = host.request("POST", "/v1/platform/tenants", json=provision_request(slug))
    assert started.status_code == 202, started.text
    assert host.wait(started.json()["id"])["status"] == "completed"
    store = f"{slug}.localhost"
    soups = {"categories": [{"name": "Soups", "items": [{"name": "Minestrone", "price": 650}]}]}
    imported = host.request(
        "POST", "/v1/admin/menu/import", host=store, headers=_owner_of(slug), json=soups
    )
    assert imported.status_code < 300, imported.text
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    asyncio.run(ensure_demo_tenant(devhost, slug))  # the next `make dev`
    menu = host.request("GET", "/v1/store/menu", host=store, headers={})
    assert [c["name"] for c in menu.json()["categories"]] == ["Soups"]


@pytest.mark.devhost
def test_the_demos_prices_include_german_vat(host: PlatformHost) -> None:
    """The demo's prices include German VAT, as the README says."""
    slug = unique_slug("demo")
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    asyncio.run(ensure_demo_tenant(devhost, slug))
    settings = host.request(
        "GET", "/v1/admin/settings", host=f"{slug}.localhost", headers=_owner_of(slug)
    ).json()
    assert (settings["currency"], settings["timezone"], settings["tax"]) == (
        "EUR",
        "Europe/Berlin",
        {"rate_bp": 1900, "inclusive": True},
    )


@pytest.mark.devhost
def test_a_demo_slug_the_platform_refuses_is_a_demo_setup_error(host: PlatformHost) -> None:
    """A demo the platform refuses is a DemoSetupError quoting what the API answered."""
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    with pytest.raises(DemoSetupError, match=r"POST /v1/platform/tenants answered 4\d\d"):
        asyncio.run(ensure_demo_tenant(devhost, "Not_A_Slug"))


# --- devhost/identity.py -------------------------------------------------------------------


def test_the_dev_signing_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The dev signing key under .local/dev is readable by its owner only."""
    key = tmp_path / "identity" / "signing-key.pem"
    DevIdentity(issuer=ISSUER, audience=AUDIENCE, key_path=key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


# --- devhost/__main__.py -------------------------------------------------------------------


def _token_cli(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devhost", "token", *options, "--data-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_token_cli_refuses_a_restaurant_role_without_a_tenant(tmp_path: Path) -> None:
    """The token CLI refuses a restaurant role without `--tenant`: such a token is refused by every
    restaurant."""
    done = _token_cli(tmp_path, "--role", "owner")
    assert done.returncode == 2
    assert "--tenant is required" in done.stderr and not done.stdout.strip()


def test_the_token_cli_honours_ttl(tmp_path: Path) -> None:
    """The token CLI's `--ttl` sets the token's lifetime."""
    done = _token_cli(tmp_path, "--role", "staff", "--tenant", "demo", "--ttl", "60")
    assert done.returncode == 0, done.stderr[-600:]
    claims = jwt.decode(done.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


def test_no_migrate_implies_no_demo() -> None:
    """`--no-migrate` implies `--no-demo`, as its help says: no demo on an unmigrated database."""
    show = (
        "import sys, devhost.dev_stack as d, devhost.__main__ as m\n"
        "d.run_dev = lambda options, **how: print(sorted(how.items()))\n"
        "sys.argv = ['devhost', '--no-migrate', '--no-services']; m.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", show], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-600:]
    assert done.stdout.splitlines()[-1] == str(
        [("demo", False), ("migrate", False), ("services", False)]
    )


# --- devhost/durable/registry.py -----------------------------------------------------------


def test_an_orchestrator_renamed_by_its_trigger_goes_by_that_name() -> None:
    """An `orchestration_trigger(orchestration=...)` is started by that name, as the host does."""
    app = func.FunctionApp()

    @app.orchestration_trigger(context_name="context", orchestration="renamed_flow")
    def flow(context):
        return (yield context.call_activity("shout", "x"))

    @app.activity_trigger(input_name="word", activity="shout")
    def loud(word: str) -> str:
        return word.upper()

    registry = FunctionRegistry(app.get_functions())
    assert (sorted(registry.orchestrators), sorted(registry.activities)) == (
        ["renamed_flow"],
        ["shout"],
    )
