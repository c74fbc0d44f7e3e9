"""A FunctionApp with blob and timer triggers that record their calls, for the devhost tests."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

CONNECTION = "AzureWebJobsStorage"


@dataclass
class Recorder:
    """Thread-safe log of invocations; sync functions run on worker threads."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, function: str, **details: Any) -> None:
        """Append one call with the monotonic time it started."""
        with self.lock:
            self.calls.append({"function": function, "at": time.monotonic(), **details})

    def of(self, function: str) -> list[dict[str, Any]]:
        """The calls made to one function, in order."""
        with self.lock:
            return [call for call in self.calls if call["function"] == function]


def build_app(
    container: str, recorder: Recorder, *, failures: dict[str, int] | None = None
) -> func.FunctionApp:
    """Blob triggers on `container` (unique per test) and `container`-tenants, plus two timers.

    `failures` maps a blob name to how many calls for it fail before one succeeds.
    """
    planned = failures or {}
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        data = blob.read()
        recorder.record("on_upload", name=blob.name, uri=blob.uri, length=blob.length, data=data)
        with recorder.lock:
            recorder.failures[blob.name] += 1
            failed = recorder.failures[blob.name]
        if failed <= planned.get(blob.name.split("/", 1)[1], 0):
            raise RuntimeError(f"planned failure {failed} for {blob.name}")

    @app.blob_trigger(
        arg_name="upload",
        path=f"{container}-tenants/{{tenant}}/{{name}}.{{ext}}",
        connection=CONNECTION,
    )
    async def on_tenant_upload(upload: func.InputStream) -> None:
        recorder.record("on_tenant_upload", name=upload.name, data=upload.read())

    @app.timer_trigger(schedule="*/5 * * * * *", arg_name="timer")
    def every_five_seconds(timer: func.TimerRequest) -> None:
        recorder.record("every_five_seconds", past_due=timer.past_due)

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
    async def new_year(timer: func.TimerRequest) -> None:
        recorder.record("new_year", past_due=timer.past_due)

    return app


app = build_app("uploads-test", Recorder())
