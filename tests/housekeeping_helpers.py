"""Running the hourly housekeeping timer as the host does: with a durable client bound to a
real durable engine (devhost's), since the timer also purges the task hub's old operations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.devhost.durable_fixtures import ClientLoop, EngineHost


@pytest.fixture(scope="module", name="engine")
def engine_fixture(loop: ClientLoop) -> Iterator[EngineHost]:
    host = EngineHost(loop).start()
    yield host
    host.stop()


@pytest.fixture(scope="module", name="app_engine")
def app_engine_fixture(loop: ClientLoop, app_functions: list) -> Iterator[EngineHost]:
    """devhost's durable engine running the app's own orchestrations (deprovision_tenant), for
    a housekeeping run that starts one."""
    host = EngineHost(loop, functions=app_functions).start()
    yield host
    host.stop()


def run_housekeeping(app_functions: list, engine: EngineHost) -> None:
    timer = next(f for f in app_functions if f.get_function_name() == "purge_order_housekeeping")
    client = engine.engine.client_binding_json()
    engine.run(timer.get_user_function()(timer=None, client=client))
