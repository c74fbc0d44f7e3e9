"""DurableEngine: what the devhost server uses to run an app's durable functions.

Orchestrators and activities of a `df.DFApp` run through the real `azure-functions-durable` SDK
by its history/actions contract; instances and history live in Azurite tables; the durable
client's HTTP API is served by `routes()`. Activities are at-least-once: an activity running
when the process dies (or whose result was not yet committed) runs again after `start()` resumes
its instance, exactly as on the real host after a worker crash. Durable entities and durable
HTTP are not supported: orchestrations using them fail with a message saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import uuid4

from starlette.routing import BaseRoute

from . import binding, client_api
from . import history as h
from .registry import FunctionRegistry
from .runtime import Runtime
from .state import TERMINAL, InstanceExistsError, Orchestration
from .store import DurableStore, InstanceRecord


class UnknownOrchestratorError(LookupError):
    """start_new named a function that is not an orchestrator of this app."""


def _decoded(text: str | None) -> Any:
    """JSON text as a value (text that is not JSON stays as is)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def status_json(
    record: InstanceRecord, events: list[dict] | None, show_input: bool, show_output: bool
) -> dict:
    """An instance as the status API shows it."""
    status = {
        "name": record.name,
        "instanceId": record.instance_id,
        "runtimeStatus": record.status,
        "input": _decoded(record.input) if show_input else None,
        "customStatus": _decoded(record.custom_status),
        "output": _decoded(record.output),
        "createdTime": h.format_ts(record.created),
        "lastUpdatedTime": h.format_ts(record.updated),
    }
    if events is not None:
        friendly = h.friendly_history(events, show_output)
        # The host's HTTP API calls it historyEvents; the Python SDK's status object reads history.
        status["historyEvents"] = friendly
        status["history"] = friendly
    return status


class DurableEngine:
    """Runs orchestrators and activities of an app and serves the durable client API."""

    def __init__(
        self,
        functions: Iterable[Any],
        storage_connection: str,
        hub_name: str,
        base_url: str = "http://127.0.0.1:7071",
        max_concurrent_activities: int = 10,
    ) -> None:
        self.hub_name = hub_name
        self.base_url = base_url.rstrip("/")
        self.registry = FunctionRegistry(functions)
        self.store = DurableStore(storage_connection, hub_name)
        self.runtime = Runtime(self.registry, self.store, max_concurrent_activities)

    def client_binding_json(self) -> str:
        """The JSON a `durableClient` binding receives."""
        return binding.client_binding_json(self.base_url, self.hub_name)

    def routes(self) -> list[BaseRoute]:
        """Starlette routes of the durable HTTP API (under /runtime/webhooks/durabletask/)."""
        return client_api.routes(self)

    async def start(self) -> None:
        """Create the tables and resume every active instance; call in the server's loop."""
        await self.store.open()
        await self.runtime.resume()

    async def stop(self) -> None:
        """Stop drivers and timers and close storage."""
        await self.runtime.close()
        await self.store.close()

    # Client operations (used by client_api) -----------------------------------------------

    async def start_new(
        self, name: str, instance_id: str | None, input_text: str | None, version: str = ""
    ) -> str:
        """Start an instance; an id that is Pending/Running is refused (InstanceExistsError).

        The host's default `overridableExistingInstanceStates` is `NonRunningStates`: an id
        may be reused once its instance has ended, and starting it while it runs is a 409.
        """
        if name not in self.registry.orchestrators:
            raise UnknownOrchestratorError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Additional info: "
                f"known orchestrators are {sorted(self.registry.orchestrators)}."
            )
        instance_id = instance_id or uuid4().hex
        ending = self.runtime.running.get(instance_id)
        if ending is not None and ending.record.status in TERMINAL:
            await ending.finished.wait()  # its final row is being written; then it may restart
        running = self.runtime.running.get(instance_id)
        if running is not None:
            raise InstanceExistsError(
                f"An Orchestration instance with the status {running.record.status} already "
                f"exists (instance ID '{instance_id}')."
            )
        await self.runtime.create(name, instance_id, input_text, version)
        return instance_id

    async def _record(self, instance_id: str) -> InstanceRecord | None:
        """The live record of a running instance, else the stored one."""
        orc = self.runtime.running.get(instance_id)
        return orc.record if orc is not None else await self.store.get_instance(instance_id)

    async def status(
        self, instance_id: str, show_history: bool, show_output: bool, show_input: bool
    ) -> dict | None:
        """The instance's status, or None when unknown."""
        orc = self.runtime.running.get(instance_id)
        events: list[dict] | None = None
        if orc is not None:
            record = orc.record
            if show_history:
                events = list(orc.history)
        else:
            found = await self.store.get_instance(instance_id)
            if found is None:
                return None
            record = found
            if show_history:
                episodes, _ = await self.store.load_execution(instance_id, record.execution_id)
                events = [event for ep in episodes for event in ep["events"]]
        return status_json(record, events, show_input, show_output)

    async def list_status(
        self,
        statuses: list[str],
        created_from: datetime | None,
        created_to: datetime | None,
        prefix: str | None,
        show_input: bool,
    ) -> list[dict]:
        """Instances matching the filters, live state preferred over stored rows."""
        found = await self.store.list_instances((), created_from, created_to)
        result = []
        for stored in found:
            orc = self.runtime.running.get(stored.instance_id)
            record = orc.record if orc is not None else stored
            if statuses and record.status not in statuses:
                continue
            if prefix and not record.instance_id.startswith(prefix):
                continue
            result.append(status_json(record, None, show_input, False))
        return result

    async def _live(self, instance_id: str) -> tuple[Orchestration | None, int]:
        """The running instance to message, or None and 404/410."""
        orc = self.runtime.running.get(instance_id)
        if orc is not None and orc.record.status not in TERMINAL:
            return orc, 202
        if orc is not None or await self.store.get_instance(instance_id):
            return None, 410
        return None, 404

    async def raise_event(self, instance_id: str, name: str, input_text: str | None) -> int:
        """202 when delivered, 404 for an unknown instance, 410 when it has ended."""
        orc, code = await self._live(instance_id)
        if orc is None:
            return code
        await self.runtime.send(orc, h.event_raised(h.utcnow(), name, input_text))
        return 202

    async def terminate(self, instance_id: str, reason: str) -> int:
        """202 when accepted, 404 for an unknown instance, 410 when it has ended."""
        orc, code = await self._live(instance_id)
        if orc is None:
            return code
        await self.runtime.send(orc, h.execution_terminated(h.utcnow(), reason))
        return 202

    async def restart(self, instance_id: str, new_instance_id: bool) -> str | None:
        """Start the instance's orchestrator again with its original input; None if unknown."""
        record = await self._record(instance_id)
        if record is None:
            return None
        target = None if new_instance_id else instance_id
        return await self.start_new(record.name, target, record.input, record.version)

    async def purge(self, instance_id: str) -> int:
        """Delete an ended instance and its history: 200, 404 unknown, 412 still running."""
        running = self.runtime.running.get(instance_id)
        if running is not None and running.record.status not in TERMINAL:
            return 412  # as the host: only instances in a terminal state are purged
        if running is not None:
            await running.finished.wait()  # its final row is being written
        if await self.store.get_instance(instance_id) is None:
            return 404
        await self.store.purge(instance_id)
        return 200

    async def purge_by(
        self, statuses: list[str], created_from: datetime | None, created_to: datetime | None
    ) -> int:
        """Purge every ended instance matching the filters; the number deleted."""
        wanted = [s for s in statuses if s in TERMINAL] if statuses else sorted(TERMINAL)
        if not wanted:
            return 0
        records = await self.store.list_instances(wanted, created_from, created_to)
        ended = [r for r in records if r.instance_id not in self.runtime.running]
        await asyncio.gather(*(self.store.purge(r.instance_id) for r in ended))
        return len(ended)

    async def wait(self, instance_id: str, timeout: float) -> None:
        """Wait up to timeout seconds for a running instance to end."""
        orc = self.runtime.running.get(instance_id)
        if orc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(orc.finished.wait(), timeout)
