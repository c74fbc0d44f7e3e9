"""The episode driver: runs each instance's episodes through the SDK and commits them.

Each running instance has one driver task woken by events (a completion, a timer, a raised
event), never by polling. An episode runs the orchestrator off the event loop, then commits its
events to Table Storage in one transaction before any work it scheduled starts, so storage
always holds a prefix of what happened. Activity results are not persisted on their own: they
become durable with the next episode. After a crash (even SIGKILL) `resume()` reloads every
active instance and restarts the work its history left open, which means activities are
at-least-once: one that was running, or had finished without its episode being committed, runs
again. Timers are re-armed from their stored fire times; children are re-attached by instance id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import uuid4

from . import episode
from . import history as h
from .actions import OrchestratorState, read_state
from .registry import FunctionRegistry, run_orchestrator
from .state import ACTIVE, Bookkeeping, InboxItem, Orchestration
from .store import DurableStore, InstanceRecord
from .work import WorkRunner

log = logging.getLogger("devhost.durable")
_ORCHESTRATOR_THREADS = 2  # episodes are short and hold the GIL; more threads would not help
_MAX_RETRY_DELAY = 10.0


class Runtime:
    """Running instances and their drivers; what episodes schedule goes to WorkRunner."""

    def __init__(self, registry: FunctionRegistry, store: DurableStore, max_activities: int):
        self.registry = registry
        self.store = store
        self.running: dict[str, Orchestration] = {}
        self.work = WorkRunner(self, max_activities)
        self._orchestrators = ThreadPoolExecutor(_ORCHESTRATOR_THREADS, "durable-orchestrator")
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run coro as a task the runtime keeps (and cancels on close)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # a strong reference, or the task may be collected mid-flight
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop drivers, timers and pools; running activity threads are abandoned."""
        for orc in self.running.values():
            orc.cancel_timers()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.work.shutdown()
        self._orchestrators.shutdown(wait=False, cancel_futures=True)

    # Creating and resuming ----------------------------------------------------------------

    async def create(
        self,
        name: str,
        instance_id: str,
        input_text: str | None,
        version: str = "",
        parent: tuple[str, str, int] | None = None,
    ) -> Orchestration:
        """Start a new execution under instance_id (the caller made sure none is running)."""
        now = h.utcnow()
        record = InstanceRecord(
            instance_id, name, uuid4().hex, "Pending", now, now, input=input_text, version=version
        )
        if parent is not None:
            record.parent_instance_id, record.parent_execution_id, record.parent_task_id = parent
        orc = Orchestration(record)
        self.running[instance_id] = orc  # reserved before any await: a second start sees it
        try:
            # Rows of an earlier life of this id go; the new row needs no history to be valid.
            await asyncio.gather(
                self.store.delete_history(instance_id, keep_execution=record.execution_id),
                self.store.put_instance(record),
            )
        except BaseException:
            del self.running[instance_id]
            raise
        self._start_driver(orc)
        return orc

    async def resume(self) -> None:
        """Reload every active instance from storage and restart its open work."""
        resumed: list[Orchestration] = []
        records = await self.store.list_instances(ACTIVE)
        loaded = await asyncio.gather(
            *(self.store.load_execution(r.instance_id, r.execution_id) for r in records)
        )
        for record, (episodes, inbox) in zip(records, loaded, strict=True):
            orc = Orchestration(record)
            orc.restore_history(episodes)
            orc.inbox.extend(InboxItem(event, key) for key, event in inbox)
            self.running[record.instance_id] = orc
            end = orc.terminal_event()
            if end is None:
                resumed.append(orc)
                continue
            # The end was committed but the instance row not yet updated.
            status = end.get("OrchestrationStatus", "Terminated")
            await self._end_execution(orc, [], status, end.get("Result", end.get("Input")))
            if status == "ContinuedAsNew":
                resumed.append(orc)
        for orc in resumed:
            self.work.dispatch(orc, orc.outstanding(), resuming=True)
            self._start_driver(orc)
        log.info("durable: resumed %d instance(s)", len(resumed))

    def _start_driver(self, orc: Orchestration) -> None:
        """Mark the instance ready and start its driver with a first wake."""
        orc.ready.set()
        orc.wake.set()
        self.spawn(self._drive(orc))

    # Messages -----------------------------------------------------------------------------

    def deliver(
        self, instance_id: str, execution_id: str | None, event: dict, key: str | None = None
    ) -> None:
        """Hand an event to the instance's current execution (execution_id None: whichever)."""
        orc = self.running.get(instance_id)
        if orc is None or orc.finished.is_set():
            return  # the instance ended or restarted; late results are dropped
        if execution_id is None or orc.execution_id == execution_id:
            orc.deliver(event, key)

    async def send(self, orc: Orchestration, event: dict) -> None:
        """Persist a client message (raise/terminate) before acknowledging it, then deliver it."""
        await orc.ready.wait()
        key = await self.store.add_inbox(orc.instance_id, event)
        self.deliver(orc.instance_id, None, event, key)

    # The driver ---------------------------------------------------------------------------

    async def _drive(self, orc: Orchestration) -> None:
        """Run episodes whenever woken until the instance ends."""
        delay = 0.5
        while not orc.finished.is_set():
            await orc.wake.wait()
            orc.wake.clear()
            await asyncio.sleep(0)  # completions already queued on the loop join this episode
            try:
                await self._step(orc)
                delay = 0.5
            except Exception:
                log.exception("durable: episode of %s failed; retrying", orc.instance_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_DELAY)
                orc.wake.set()

    async def _step(self, orc: Orchestration) -> None:
        """One wake-up: finish a committed end, terminate, or run an episode over the inbox."""
        if orc.ending is not None:
            # The end is committed, but what follows it failed (a storage error): do it again,
            # or the instance would stay Running in storage and a new start would wait forever.
            await self._end_execution(orc, *orc.ending)
            return
        stop = orc.termination()
        if stop is not None:
            await self._terminate(orc, stop)
            return
        items = orc.take_inbox()
        if not items and orc.episodes > 0:
            return
        saved = orc.bookmark()
        try:
            plan, committed = await self._episode(orc, items)
        except BaseException:
            orc.books = saved  # nothing was committed: the episode will be run again
            orc.inbox[:0] = items
            raise
        self._apply(orc, plan.events)
        if plan.outcome is not None:
            await self._end_execution(orc, items, plan.outcome, plan.result)
        else:
            await self._drop_inbox(orc, items, wait=False)
            for timer_id in plan.cancelled:
                handle = orc.timer_handles.pop(timer_id, None)
                if handle is not None:
                    handle.cancel()
            self.work.dispatch(orc, plan.work)
            await committed  # the instance row (status, custom status) written alongside
        if orc.inbox:
            orc.wake.set()

    def _now(self, orc: Orchestration) -> datetime:
        """The timestamp for the next episode."""
        # Episode timestamps never go backwards, or current_utc_datetime would.
        now = h.utcnow()
        return max(now, h.parse_ts(orc.history[-1]["Timestamp"])) if orc.history else now

    async def _episode(
        self, orc: Orchestration, items: list[InboxItem]
    ) -> tuple[episode.Plan, asyncio.Future]:
        """Run the orchestrator over the history and commit the episode."""
        now = self._now(orc)
        plan = episode.begin(orc, items, now)
        handle = self.registry.orchestrators.get(orc.record.name)
        if handle is None:
            message = f"The function '{orc.record.name}' doesn't exist or is not an orchestrator."
            state = OrchestratorState(False, [], error=message)
        else:
            payload = episode.sdk_payload(orc, plan.events)
            loop = asyncio.get_running_loop()
            returned, raised = await loop.run_in_executor(
                self._orchestrators, run_orchestrator, handle, payload
            )
            state = read_state(returned, raised)
        episode.finish(orc, plan, state, now)
        blob = {
            "events": plan.events,
            "books": orc.books.to_json(),
            "customStatus": plan.custom_status,
            "consumed": [item.key for item in items if item.key is not None],
        }
        commit = self.store.commit_episode(orc.instance_id, orc.execution_id, orc.episodes, blob)
        if plan.outcome is not None:
            await commit  # the end is written before the row says so (see resume)
            orc.record = replace(orc.record, custom_status=plan.custom_status)
            return plan, _done()
        before = orc.record
        orc.record = replace(
            before, status="Running", custom_status=plan.custom_status, updated=now
        )
        if (before.status, before.custom_status) == ("Running", plan.custom_status):
            # Status reads of running instances come from memory, so the row is only rewritten
            # when what it shows changes; the episode itself is the durable write.
            await commit
            return plan, _done()
        # The row may be written alongside: replaying the episode would rewrite the same values.
        row = asyncio.ensure_future(self.store.put_instance(orc.record))
        try:
            await commit
        except BaseException:
            await asyncio.gather(row, return_exceptions=True)
            raise
        return plan, row

    async def _drop_inbox(self, orc: Orchestration, items: list[InboxItem], wait: bool) -> None:
        """Delete the inbox rows an episode consumed, and any an earlier deletion left."""
        # The committed episode lists what it consumed, so deleting may lag behind, except at
        # the end of an execution: the next one (or a restart) must not see these rows, and a
        # new execution would read one an earlier episode consumed as a fresh message.
        orc.undeleted.update(item.key for item in items if item.key is not None)
        if not orc.undeleted:
            return
        keys = sorted(orc.undeleted)
        if wait:
            await self._delete_consumed(orc, keys)
        else:
            self.spawn(self._delete_consumed(orc, keys))

    async def _delete_consumed(self, orc: Orchestration, keys: list[str]) -> None:
        await self.store.delete_inbox(orc.instance_id, keys)
        orc.undeleted.difference_update(keys)

    def _apply(self, orc: Orchestration, events: list[dict]) -> None:
        """Make committed events part of the replayed history."""
        for event in events:
            event["IsPlayed"] = True
        orc.history.extend(events)
        orc.episodes += 1

    async def _terminate(self, orc: Orchestration, stop: InboxItem) -> None:
        """Commit a terminate request and end the instance."""
        now = self._now(orc)
        items = orc.take_inbox()  # everything else waiting is dropped with the instance
        events = [
            h.orchestrator_started(now),
            stop.event,
            h.execution_completed(now, "Terminated", stop.event["Input"]),
            h.orchestrator_completed(now),
        ]
        blob = {
            "events": events,
            "books": orc.books.to_json(),
            "customStatus": orc.record.custom_status,
            "consumed": [item.key for item in items if item.key is not None],
        }
        try:
            await self.store.commit_episode(orc.instance_id, orc.execution_id, orc.episodes, blob)
        except BaseException:
            orc.inbox[:0] = items  # not committed: the request is still waiting
            raise
        self._apply(orc, events)
        await self._end_execution(orc, items, "Terminated", stop.event["Input"])

    async def _end_execution(
        self, orc: Orchestration, items: list[InboxItem], outcome: str, result: str | None
    ) -> None:
        """What follows a committed end: drop the consumed messages, then conclude or restart.

        Remembered on the instance until done, so a failure is retried by the next wake-up.
        """
        orc.ending = (items, outcome, result)
        # Waited for: the next execution (or a restart) must not see these messages again.
        await self._drop_inbox(orc, items, wait=True)
        if outcome == "ContinuedAsNew":
            await self._continue_as_new(orc, result)
        else:
            await self._conclude(orc, outcome, result)
        orc.ending = None

    async def _continue_as_new(self, orc: Orchestration, next_input: str | None) -> None:
        """Start a fresh execution of the instance with next_input."""
        orc.cancel_timers()
        old_execution = orc.execution_id
        record = replace(
            orc.record,
            execution_id=uuid4().hex,
            status="ContinuedAsNew",
            input=next_input,
            output=None,
            custom_status=None,
            updated=h.utcnow(),
        )
        await self.store.put_instance(record)
        orc.record = record
        orc.history, orc.episodes, orc.books = [], 0, Bookkeeping()
        orc.wake.set()  # unprocessed messages carry over into the new execution
        self.spawn(
            self.store.delete_history(
                orc.instance_id, keep_execution=record.execution_id, keep_inbox=True
            )
        )
        log.debug("durable: %s continued as new (was %s)", orc.instance_id, old_execution)

    async def _conclude(self, orc: Orchestration, status: str, result: str | None) -> None:
        """Write the final status, release the instance and tell its parent."""
        orc.cancel_timers()
        orc.record = replace(orc.record, status=status, output=result, updated=h.utcnow())
        await self.store.put_instance(orc.record)
        orc.finished.set()
        if self.running.get(orc.instance_id) is orc:
            del self.running[orc.instance_id]
        self.work.notify_parent(orc.record)


def _done() -> asyncio.Future:
    """An already-completed future."""
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future
