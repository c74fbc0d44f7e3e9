"""Permanent step failures, and the test-only way to cause one.

An activity raises `StepFailed` for what retrying cannot fix (slug or domain taken, a migration
that fails): the activity turns it into a result, so the orchestrator compensates at once instead
of retrying. Anything else (a dropped connection, storage timing out) propagates and is retried
with backoff by the orchestrator.

Failure injection: `fail_at_step` in a provisioning request makes that step fail permanently
right after it has done its work, so tests see compensation undo a step that really happened.
It is honoured only when STELLY_ENV=development: the request model refuses the field elsewhere,
and this check runs again inside the activity, so production input can never trigger it.
"""

from __future__ import annotations

import psycopg

from shared.config import get_settings
from shared.migrate import MigrationError
from shared.provisioning.requests import ProvisionJob


class StepFailed(RuntimeError):
    """A step failed in a way retrying cannot fix; the message says why, for the admin."""


def fail_if_injected(job: ProvisionJob, step: str) -> None:
    """Raise StepFailed when the request asks this step to fail (development only)."""
    if job.request.fail_at_step == step and get_settings().is_development:
        raise StepFailed(f"injected failure after step {step} (fail_at_step, development only)")


def is_transient(error: BaseException) -> bool:
    """True for errors worth retrying: lost connections, deadlocks, serialization failures."""
    cause = error.__cause__ if isinstance(error, MigrationError) else error
    return isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError)
