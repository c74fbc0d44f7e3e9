"""Races across the platform that a lock in the code settles: two operations retaking a slug,
an undo meeting a deletion, an activity run twice at once, key-set refreshes, a process's first
database callers. Each test holds what the racing callers need until they queue behind it; without
the lock named in its docstring it fails.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import UserDelegationKey

from shared import db
from shared.db import transaction
from shared.images import upload_urls
from shared.images.upload_urls import upload_sas
from shared.provisioning import steps
from shared.provisioning.compensation import run_undo
from shared.provisioning.requests import ProvisionJob, provision_job
from shared.provisioning.steps import run_step
from shared.signing_keys import SigningKeys
from tests.conftest import execute, run_in_turn_behind, wait_for_lock_waiters
from tests.platform_helpers import jobs_fixture, provision_job_for, unique_slug  # noqa: F401
from tests.test_auth import RawProvider
from tests.test_images_upload_urls import _azure_settings, _OwnAccount
from tests.test_signing_keys import SIGNER, FakeClock, _key_set


def queued_behind_the_row(slug: str, *calls: Callable[[], None]) -> None:
    """Run the calls on threads of their own, in turn behind a lock on the slug's tenants row."""
    lock = "select 1 from tenants where slug = %s for update"
    run_in_turn_behind(None, lock, "tenants", *calls, params=[slug])


@pytest.fixture
def job(jobs: list[ProvisionJob]) -> ProvisionJob:
    """One job for a fresh slug, its restaurant deleted afterwards."""
    made = provision_job_for(unique_slug("race"))
    jobs.append(made)
    return made


def test_two_operations_retaking_a_failed_slug_at_once_one_is_told_it_is_taken(
    job: ProvisionJob,
) -> None:
    """Two requests retaking a `failed` slug at once: one gets it, the other is told it is taken.
    `reserve` locks the slug's row before it decides (shared/provisioning/steps.py
    `_reserve_row`); without it both see `failed` and each is told the restaurant is its."""
    assert run_step("reserve", job, "op-0")["ok"]
    execute("update tenants set status = 'failed' where slug = %s", [job.slug])
    other = provision_job(job.request.model_copy(update={"display_name": "Another Name"}))
    contenders = [
        ProvisionJob(job.request, job.fingerprint, uuid.uuid4().hex),
        ProvisionJob(other.request, other.fingerprint, uuid.uuid4().hex),
    ]
    outcomes: dict[str, dict] = {}

    def reserve(index: int) -> Callable[[], None]:
        def call() -> None:
            outcomes[f"op-{index}"] = run_step("reserve", contenders[index], f"op-{index + 1}")

        return call

    queued_behind_the_row(job.slug, reserve(0), reserve(1))
    assert sorted(o["ok"] for o in outcomes.values()) == [False, True], outcomes
    refused = next(o for o in outcomes.values() if not o["ok"])
    assert refused["error"] == f"the slug {job.slug} is taken (its restaurant is provisioning)"


def test_a_failed_provisioning_undone_while_a_delete_takes_its_restaurant_leaves_it_deleting(
    job: ProvisionJob,
) -> None:
    """An undo of a failed provisioning that meets a deletion of the same restaurant leaves it
    `deleting`: `release` locks the row before it checks whose it is
    (shared/provisioning/compensation.py `_owned`); without it the undo would overwrite
    `deleting` with `failed`, bringing the deleted slug back."""
    assert run_step("reserve", job, "op-1")["ok"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        with transaction() as conn:  # a DELETE of the restaurant, halfway through
            conn.execute("select 1 from tenants where slug = %s for update", [job.slug])
            undo = pool.submit(run_undo, "reserve", job, "op-1", "seed failed")
            wait_for_lock_waiters("tenants")
            conn.execute("update tenants set status = 'deleting' where slug = %s", [job.slug])
        outcome = undo.result()
    assert outcome == {"ok": True, "detail": "not this operation's tenant; left alone"}
    assert execute("select status from tenants where slug = %s", [job.slug]) == [
        {"status": "deleting"}
    ]


def test_an_activate_run_twice_at_once_is_timed_once(
    job: ProvisionJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host may run an activity twice at once: `activate` locks the attempt's row
    (shared/provisioning/steps.py), so the completed provisioning is recorded once, not twice."""
    started = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    timed = ProvisionJob(job.request, job.fingerprint, job.attempt, started)
    assert run_step("reserve", timed, "op-1")["ok"]
    durations: list[tuple[str, str]] = []
    monkeypatch.setattr(
        steps,
        "record_provisioning_duration",
        lambda slug, elapsed_ms, *, outcome: durations.append((slug, outcome)),
    )
    outcomes: list[dict] = []

    def activate() -> None:
        outcomes.append(run_step("activate", timed, "op-1"))

    queued_behind_the_row(job.slug, activate, activate)
    assert [o["ok"] for o in outcomes] == [True, True], outcomes
    assert durations == [(job.slug, "completed")]


class GatedKeys(SigningKeys):
    """SigningKeys whose downloads (real ones, from the provider) are counted, the second one
    held until `gate` is set, so a test can make a refresh last as long as it likes."""

    def __init__(self, url: str, clock: FakeClock) -> None:
        super().__init__(url, clock=clock)
        self.downloads = 0
        self.refreshing = threading.Event()
        self.gate = threading.Event()

    def _download(self) -> object:
        self.downloads += 1
        if self.downloads == 2:
            self.refreshing.set()
            assert self.gate.wait(20)
        return super()._download()


def test_while_one_caller_refreshes_the_key_set_another_uses_the_kept_one() -> None:
    """While one caller refreshes a due key set from a slow provider, another verifies with the
    set it has rather than downloading it again (shared/signing_keys.py: one fetch at a
    time)."""
    provider = RawProvider(_key_set(), "application/json")
    clock = FakeClock()
    keys = GatedKeys(provider.url, clock)
    try:
        assert keys.key(SIGNER.kid, 300.0).key_id == SIGNER.kid
        clock.now += 301  # the kept set is due a refresh
        with ThreadPoolExecutor(max_workers=1) as pool:
            refresh = pool.submit(keys.key, SIGNER.kid, 300.0)
            assert keys.refreshing.wait(10)
            try:
                assert keys.key(SIGNER.kid, 300.0).key_id == SIGNER.kid
                assert keys.downloads == 2
            finally:
                keys.gate.set()
            assert refresh.result().key_id == SIGNER.kid
        assert keys.downloads == 2
    finally:
        provider.close()


def blocked_at(thread: threading.Thread, function: Callable[..., Any], line: str) -> bool:
    """Whether thread stands at the line of function that holds `line` (a C lock such as
    threading.Lock leaves no other trace of a thread waiting for it)."""
    lines, first = inspect.getsourcelines(function)
    at = [first + i for i, text in enumerate(lines) if line in text]
    frame = sys._current_frames().get(thread.ident)
    return frame is not None and frame.f_code is function.__code__ and frame.f_lineno in at


def test_two_first_callers_of_a_process_open_one_pool_and_run_its_start_up_work_once(
    monkeypatch: pytest.MonkeyPatch, migrated_public: None
) -> None:
    """Two requests reaching a fresh process together open one pool and run its start-up work
    (the registry migrations) once: shared/db.py get_pool opens it under a lock; without it
    each opens a pool, one leaked with its connections."""
    opened: list[object] = []
    busy, gate = threading.Event(), threading.Event()

    def hook(pool) -> None:
        opened.append(pool)
        if len(opened) == 1:  # the first opener is halfway through its start-up work
            busy.set()
            assert gate.wait(20)

    monkeypatch.setattr(db, "_open_hooks", [hook])
    db.close_pool()
    got: list[object] = []
    first = threading.Thread(target=lambda: got.append(db.get_pool()))
    second = threading.Thread(target=lambda: got.append(db.get_pool()))
    try:
        first.start()
        assert busy.wait(10)
        second.start()
        deadline = time.monotonic() + 10  # until the second waits for the lock or opens its own
        while not (len(opened) > 1 or blocked_at(second, db.get_pool, "with _pool_lock")):
            assert time.monotonic() < deadline, "the second caller never got anywhere"
            time.sleep(0.01)
        gate.set()
        first.join(30)
        second.join(30)
        assert len(opened) == 1 and len(got) == 2 and got[0] is got[1]
    finally:
        gate.set()
        for pool in {id(p): p for p in opened}.values():
            if pool is not db._pool:
                pool.close()
        db.close_pool()


class _GatedDelegation(_OwnAccount):
    """The stand-in for Azure's key service (an account of its own), its first key request held
    until `gate` is set, so a test can make fetching a key last as long as it likes."""

    def __init__(self) -> None:
        super().__init__()
        self.fetching = threading.Event()
        self.gate = threading.Event()

    def get_user_delegation_key(self, start: datetime, expiry: datetime) -> UserDelegationKey:
        key = super().get_user_delegation_key(start, expiry)
        if len(self.key_requests) == 1:
            self.fetching.set()
            assert self.gate.wait(20)
        return key


def test_two_upload_urls_signed_while_the_delegation_key_is_fetched_share_one_key() -> None:
    """Two managers asking for upload URLs while this instance fetches its user-delegation key
    get URLs signed with that one key: fetching takes a lock (shared/images/upload_urls.py
    `_delegation_lock`), so the second waits for the first's key rather than asking Azure for
    another (one request per DELEGATION_KEY_LIFETIME)."""
    settings, service = _azure_settings(), _GatedDelegation()
    now = datetime.now(UTC).replace(microsecond=0)
    expiry = now + timedelta(minutes=10)
    signed: list[str] = []

    def sign() -> None:
        signed.append(
            upload_sas("t/logo/x", now=now, expiry=expiry, settings=settings, service=service)
        )

    first, second = threading.Thread(target=sign), threading.Thread(target=sign)
    try:
        first.start()
        assert service.fetching.wait(10)
        second.start()
        deadline = time.monotonic() + 10  # until the second waits for the lock or asks Azure
        while not (
            len(service.key_requests) > 1
            or blocked_at(second, upload_urls._user_delegation_key, "with _delegation_lock")
        ):
            assert time.monotonic() < deadline, "the second caller never got anywhere"
            time.sleep(0.01)
        service.gate.set()
        first.join(30)
        second.join(30)
    finally:
        service.gate.set()
    assert len(service.key_requests) == 1
    assert len(signed) == 2 and signed[0] == signed[1]  # one key, one signature
