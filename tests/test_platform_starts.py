"""Starting a platform operation (functions/platform.py `_start`) and reading its status back.

The durable client here is a stand-in for the SDK's: the answers it gives (the extension
refusing a start with a 500, a concurrent request winning the race for an id) cannot be made to
happen on demand with a real task hub. Everything else about operations runs through devhost's
real engine in tests/test_platform_api.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from azure.durable_functions import OrchestrationRuntimeStatus

from functions import platform
from shared.errors import ProblemError


class RefusingDurableClient:
    """Nothing runs, and starting fails as the SDK reports a durable extension 500."""

    async def get_status(self, instance_id: str, show_input: bool = False) -> SimpleNamespace:
        return SimpleNamespace(runtime_status=None, input_=None)

    async def start_new(self, name: str, instance_id: str, payload: dict) -> None:
        raise Exception(
            {
                "ExceptionMessage": "Storage account key rejected",
                "StackTrace": "   at Microsoft.Azure.WebJobs.Extensions.DurableTask.HttpApiHandler",
            }
        )


def test_a_failed_start_is_logged_and_the_caller_sees_nothing_internal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ProblemError) as refused:
        asyncio.run(platform._start(RefusingDurableClient(), "provision_tenant", "provision-x", {}))
    assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "5"
    assert "Storage account key" not in refused.value.detail
    assert "StackTrace" not in refused.value.detail
    assert any("Storage account key rejected" in r.getMessage() for r in caplog.records)


class RaceLostDurableClient:
    """Nothing runs when first asked; the start is refused because a concurrent request has just
    started the same id, which runs with that request's input when asked again."""

    def __init__(self) -> None:
        self.asked = 0

    async def get_status(self, instance_id: str, show_input: bool = False) -> SimpleNamespace:
        self.asked += 1
        if self.asked == 1:
            return SimpleNamespace(runtime_status=None, input_=None)
        return SimpleNamespace(
            runtime_status=OrchestrationRuntimeStatus.Running, input_={"fingerprint": "theirs"}
        )

    async def start_new(self, name: str, instance_id: str, payload: dict) -> None:
        raise Exception("An Orchestration instance with the status Running already exists.")


def test_a_start_that_lost_the_race_answers_the_running_operation() -> None:
    """Two requests for one id at once: the one whose start is refused is told about the
    operation the other started (its input decides same-or-conflict), not a 503."""
    status = asyncio.run(
        platform._start(RaceLostDurableClient(), "provision_tenant", "provision-x", {})
    )
    assert status.runtime_status == OrchestrationRuntimeStatus.Running
    assert status.input_ == {"fingerprint": "theirs"}


class ContinuedDurableClient:
    """An instance between two executions (continue_as_new); starting it again would fail."""

    async def get_status(self, instance_id: str, show_input: bool = False) -> SimpleNamespace:
        return SimpleNamespace(
            runtime_status=OrchestrationRuntimeStatus.ContinuedAsNew, input_={"slug": "x"}
        )

    async def start_new(self, name: str, instance_id: str, payload: dict) -> None:
        raise AssertionError("a running instance was started again")


def test_an_operation_that_continued_as_new_is_running() -> None:
    """ContinuedAsNew is a running instance between two executions: its status reads `running`
    (a client's poll loop knows no other word for it), and a repeated request is answered with
    it rather than starting it again."""
    continued = SimpleNamespace(
        name="fleet_migration",
        runtime_status=OrchestrationRuntimeStatus.ContinuedAsNew,
        custom_status={"step": "batches"},
        output=None,
        created_time=None,
        last_updated_time=None,
    )
    operation = platform._operation("migration-x", continued)
    assert (operation.status, operation.error) == ("running", None)
    status = asyncio.run(
        platform._start(ContinuedDurableClient(), "fleet_migration", "migration-x", {})
    )
    assert status.runtime_status == OrchestrationRuntimeStatus.ContinuedAsNew
