"""One running instance in memory: its history, sequence bookkeeping, inbox and pending work."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import datetime

from .history import EventType, parse_ts
from .store import InstanceRecord

TERMINAL = frozenset({"Completed", "Failed", "Terminated"})
ACTIVE = ("Pending", "Running", "ContinuedAsNew")


class InstanceExistsError(RuntimeError):
    """A start named an instance id that is still Pending or Running (the host's 409)."""


@dataclass
class RetryGroup:
    """A call_*_with_retry: what to reschedule, its retry options and attempts so far."""

    kind: str  # "activity" or "sub"
    name: str
    input: str | None
    options: dict
    instance_id: str | None = None  # an explicit sub-orchestration instance id
    attempts: int = 1


@dataclass
class InboxItem:
    """A message waiting for the next episode; key is its inbox row when persisted."""

    event: dict
    key: str | None = None


@dataclass
class Work:
    """Something the history says is outstanding: an activity, a timer or a sub-orchestration."""

    kind: str  # "activity", "timer" or "sub"
    task_id: int
    name: str = ""
    input: str | None = None
    instance_id: str = ""
    fire_at: datetime | None = None


@dataclass
class Bookkeeping:
    """What the engine must remember to mirror the SDK's id allocation across episodes."""

    seq: int = 0  # the next sequence id the SDK will hand out
    action_count: int = 0  # flattened actions already turned into history
    groups: dict[int, RetryGroup] = field(default_factory=dict)  # by first task id
    links: dict[int, int] = field(default_factory=dict)  # task/timer id -> group id
    timers: dict[int, int] = field(default_factory=dict)  # open user timer id -> action index
    cancelled: set[int] = field(default_factory=set)  # user timers the orchestrator cancelled
    open: set[int] = field(default_factory=set)  # ids awaiting a completion (drops duplicates)
    # What each action turned into history was ("activity:name", "sub:name", "timer", ...), by
    # action index: a replay that yields something else is non-deterministic.
    signatures: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """A JSON snapshot stored with every episode."""
        return {
            "seq": self.seq,
            "actions": self.action_count,
            "groups": {str(k): vars(g) for k, g in self.groups.items()},
            "links": {str(k): v for k, v in self.links.items()},
            "timers": {str(k): v for k, v in self.timers.items()},
            "cancelled": sorted(self.cancelled),
            "open": sorted(self.open),
            "signatures": self.signatures,
        }

    @classmethod
    def from_json(cls, data: dict) -> Bookkeeping:
        """Rebuild from a stored snapshot."""
        return cls(
            seq=data["seq"],
            action_count=data["actions"],
            groups={int(k): RetryGroup(**g) for k, g in data["groups"].items()},
            links={int(k): v for k, v in data["links"].items()},
            timers={int(k): v for k, v in data["timers"].items()},
            cancelled=set(data["cancelled"]),
            open=set(data["open"]),
            signatures=list(data.get("signatures", [])),  # absent in episodes stored before
        )


class Orchestration:
    """The live state of one instance's current execution."""

    def __init__(self, record: InstanceRecord) -> None:
        self.record = record
        self.history: list[dict] = []
        self.episodes = 0
        self.books = Bookkeeping()
        self.inbox: list[InboxItem] = []
        self.ready = asyncio.Event()  # set once the instance row exists
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()
        self.timer_handles: dict[int, asyncio.TimerHandle] = {}
        # An end of this execution that is committed, with what still has to follow it (the
        # consumed inbox rows to delete, the outcome, the result), until that has all happened.
        self.ending: tuple[list[InboxItem], str, str | None] | None = None
        # Inbox rows committed episodes consumed whose deletion has not been confirmed: all are
        # deleted (waited for) before the execution ends, so the next one never sees them.
        self.undeleted: set[str] = set()

    @property
    def instance_id(self) -> str:
        """The instance id."""
        return self.record.instance_id

    @property
    def execution_id(self) -> str:
        """The current execution (changes on continue_as_new and restart)."""
        return self.record.execution_id

    def deliver(self, event: dict, key: str | None = None) -> None:
        """Queue a message for the next episode and wake the driver."""
        self.inbox.append(InboxItem(event, key))
        self.wake.set()

    def take_inbox(self) -> list[InboxItem]:
        """All waiting messages, for one episode."""
        taken, self.inbox = self.inbox, []
        return taken

    def termination(self) -> InboxItem | None:
        """A pending terminate request, if any."""
        return next(
            (i for i in self.inbox if i.event["EventType"] == EventType.EXECUTION_TERMINATED), None
        )

    def bookmark(self) -> Bookkeeping:
        """A copy of the bookkeeping, to roll back an episode that failed to commit."""
        return copy.deepcopy(self.books)

    def cancel_timers(self) -> None:
        """Stop every scheduled timer callback."""
        for handle in self.timer_handles.values():
            handle.cancel()
        self.timer_handles.clear()

    def restore_history(self, episodes: list[dict]) -> None:
        """Load committed episodes (from storage) as replayed history."""
        for episode in episodes:
            for event in episode["events"]:
                event["IsPlayed"] = True
                self.history.append(event)
        self.episodes = len(episodes)
        self.undeleted = {key for episode in episodes for key in episode["consumed"]}
        if episodes:
            self.books = Bookkeeping.from_json(episodes[-1]["books"])
            self.record.custom_status = episodes[-1]["customStatus"]

    def terminal_event(self) -> dict | None:
        """The ExecutionCompleted/Terminated event if this execution already ended."""
        for event in reversed(self.history):
            if event["EventType"] in (
                EventType.EXECUTION_COMPLETED,
                EventType.EXECUTION_TERMINATED,
            ):
                return event
        return None

    def outstanding(self) -> list[Work]:
        """Work the history scheduled that has no completion yet (to restart after a crash)."""
        open_work: dict[tuple[str, int], Work] = {}
        for ev in self.history:
            kind = ev["EventType"]
            if kind == EventType.TASK_SCHEDULED:
                open_work["activity", ev["EventId"]] = Work(
                    "activity", ev["EventId"], ev["Name"], ev["Input"]
                )
            elif kind == EventType.SUB_ORCHESTRATION_CREATED:
                open_work["sub", ev["EventId"]] = Work(
                    "sub", ev["EventId"], ev["Name"], ev["Input"], ev["InstanceId"]
                )
            elif kind == EventType.TIMER_CREATED:
                if ev["EventId"] not in self.books.cancelled:
                    fire_at = parse_ts(ev["FireAt"])
                    open_work["timer", ev["EventId"]] = Work(
                        "timer", ev["EventId"], fire_at=fire_at
                    )
            elif kind in (EventType.TASK_COMPLETED, EventType.TASK_FAILED):
                open_work.pop(("activity", ev["TaskScheduledId"]), None)
            elif kind in (
                EventType.SUB_ORCHESTRATION_COMPLETED,
                EventType.SUB_ORCHESTRATION_FAILED,
            ):
                open_work.pop(("sub", ev["TaskScheduledId"]), None)
            elif kind == EventType.TIMER_FIRED:
                open_work.pop(("timer", ev["TimerId"]), None)
        return list(open_work.values())
