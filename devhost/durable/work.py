"""Carrying out what episodes schedule: activities, durable timers and sub-orchestrations."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from . import history as h
from .registry import run_activity
from .state import TERMINAL, Orchestration, Work
from .store import InstanceRecord

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("devhost.durable")


class WorkRunner:
    """Activities in a bounded thread pool, timers on the loop, children as new instances."""

    def __init__(self, runtime: Runtime, max_activities: int) -> None:
        self.runtime = runtime
        self._activities = ThreadPoolExecutor(max_activities, "durable-activity")

    def shutdown(self) -> None:
        """Drop queued activities; running ones finish on their threads, results unheard."""
        self._activities.shutdown(wait=False, cancel_futures=True)

    def dispatch(self, orc: Orchestration, work: list[Work], resuming: bool = False) -> None:
        """Start each item: activities on the pool, timers on the loop, children as instances."""
        for item in work:
            if item.kind == "activity":
                self.runtime.spawn(self._run_activity(orc, item))
            elif item.kind == "timer":
                assert item.fire_at is not None
                self._arm_timer(orc, item.task_id, item.fire_at)
            else:
                self.runtime.spawn(self._start_child(orc, item, resuming))

    async def _run_activity(self, orc: Orchestration, item: Work) -> None:
        """Run an activity on the pool and deliver its result."""
        execution = orc.execution_id
        activity = self.runtime.registry.activities.get(item.name)
        loop = asyncio.get_running_loop()
        event = await loop.run_in_executor(
            self._activities, run_activity, activity, item.name, item.task_id, item.input
        )
        self.runtime.deliver(orc.instance_id, execution, event)

    def _arm_timer(self, orc: Orchestration, timer_id: int, fire_at: datetime) -> None:
        """Deliver TimerFired at fire_at (wall clock)."""
        execution = orc.execution_id

        def fire() -> None:
            """Deliver the timer, unless the loop clock fired early."""
            orc.timer_handles.pop(timer_id, None)
            if h.utcnow() < fire_at:  # the loop's clock ran ahead of the wall clock
                self._arm_timer(orc, timer_id, fire_at)
                return
            self.runtime.deliver(
                orc.instance_id, execution, h.timer_fired(h.utcnow(), timer_id, fire_at)
            )

        delay = max((fire_at - h.utcnow()).total_seconds(), 0.0)
        orc.timer_handles[timer_id] = asyncio.get_running_loop().call_later(delay, fire)

    async def _start_child(self, orc: Orchestration, item: Work, resuming: bool) -> None:
        """Start (or, after a crash, re-attach) a sub-orchestration."""
        link = (orc.instance_id, orc.execution_id, item.task_id)
        existing = self.runtime.running.get(item.instance_id)
        if existing is not None and _link(existing.record) == link:
            return  # resumed alongside its parent; it reports when it ends
        if resuming:
            record = await self.runtime.store.get_instance(item.instance_id)
            if record is not None and _link(record) == link and record.status in TERMINAL:
                self.runtime.deliver(
                    orc.instance_id, orc.execution_id, _child_result(record, item.task_id)
                )
                return
        failure = None
        if item.name not in self.runtime.registry.orchestrators:
            failure = f"The function '{item.name}' doesn't exist or is not an orchestrator."
        elif existing is not None:
            failure = f"An orchestration with instance ID '{item.instance_id}' is already running."
        if failure is None:
            try:
                await self.runtime.create(item.name, item.instance_id, item.input, parent=link)
                return
            except Exception as exc:
                log.exception("durable: starting sub-orchestration %s failed", item.instance_id)
                failure = f"Starting sub-orchestration '{item.instance_id}' failed: {exc}"
        event = h.sub_failed(h.utcnow(), item.task_id, failure, "")
        self.runtime.deliver(orc.instance_id, orc.execution_id, event)

    def notify_parent(self, record: InstanceRecord) -> None:
        """Tell a waiting parent how its sub-orchestration ended."""
        if record.parent_instance_id is None or record.parent_task_id is None:
            return
        event = _child_result(record, record.parent_task_id)
        self.runtime.deliver(record.parent_instance_id, record.parent_execution_id, event)


def _link(record: InstanceRecord) -> tuple[str | None, str | None, int | None]:
    """Which parent execution and task a child belongs to."""
    return record.parent_instance_id, record.parent_execution_id, record.parent_task_id


def _child_result(record: InstanceRecord, task_id: int) -> dict:
    """The completion event a parent gets for its ended child."""
    now = h.utcnow()
    if record.status == "Completed":
        return h.sub_completed(now, task_id, record.output)
    message = record.output
    with contextlib.suppress(TypeError, ValueError):
        message = json.loads(record.output or "null")
    reason = f"Sub-orchestration '{record.name}' ({record.instance_id}) {record.status}: {message}"
    return h.sub_failed(now, task_id, reason, "")
