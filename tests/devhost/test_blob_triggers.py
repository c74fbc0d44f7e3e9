"""Blob triggers against a real Azurite: receipts, re-delivery on new content, retries, poison."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.blob_paths import BlobPath
from devhost.blob_triggers import DEFAULT_CONNECTION, POISON_TABLE, BlobTriggerWatcher
from tests.devhost.trigger_fixture_app import Recorder, build_app


async def run_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Stands in for the server's thread pool."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def upload(blobs: BlobServiceClient, container: str, name: str, data: bytes) -> None:
    client = blobs.get_container_client(container)
    if not client.exists():
        client.create_container()
    client.upload_blob(name, data, overwrite=True)


def watcher_for(functions: list, connection: str, **options: Any) -> BlobTriggerWatcher:
    options = {"backoff_base": 0.01, **options}
    return BlobTriggerWatcher(functions, connection, run_sync=run_sync, **options)


def poison_rows(connection: str, blob: str) -> list[dict[str, Any]]:
    tables = TableServiceClient.from_connection_string(connection)
    tables.create_table_if_not_exists(POISON_TABLE)
    table = tables.get_table_client(POISON_TABLE)
    return list(table.query_entities("blob eq @blob", parameters={"blob": blob}))


def test_fires_once_per_content_and_again_for_new_content(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    recorder = Recorder()
    watcher = watcher_for(build_app(container, recorder).get_functions(), connection)
    upload(blobs, container, "menu.txt", b"v1")

    first = run(watcher.poll_once())
    assert [(r.function, r.blob, r.succeeded, r.attempts) for r in first] == [
        ("on_upload", f"{container}/menu.txt", True, 1)
    ]
    assert run(watcher.poll_once()) == []
    assert [c["data"] for c in recorder.of("on_upload")] == [b"v1"]

    upload(blobs, container, "menu.txt", b"v2 new content")
    second = run(watcher.poll_once())
    assert len(second) == 1 and second[0].etag != first[0].etag
    assert [c["data"] for c in recorder.of("on_upload")] == [b"v1", b"v2 new content"]


def test_restarted_watcher_does_not_refire(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    recorder = Recorder()
    functions = build_app(container, recorder).get_functions()
    upload(blobs, container, "a.txt", b"a")
    upload(blobs, container, "b.txt", b"b")
    assert len(run(watcher_for(functions, connection).poll_once())) == 2

    restarted = watcher_for(functions, connection)
    assert run(restarted.poll_once()) == []
    upload(blobs, container, "c.txt", b"c")
    assert [r.blob for r in run(restarted.poll_once())] == [f"{container}/c.txt"]
    assert sorted(c["data"] for c in recorder.of("on_upload")) == [b"a", b"b", b"c"]


def test_input_stream_and_binding_data(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    recorder = Recorder()
    watcher = watcher_for(build_app(container, recorder).get_functions(), connection)
    upload(blobs, container, "photos/dish 1.jpg", b"\xff\xd8 jpeg bytes")
    upload(blobs, f"{container}-tenants", "acme/logo.v2.png", b"png")
    upload(blobs, f"{container}-tenants", "no-extension", b"ignored: path does not match")

    results = {r.function: r for r in run(watcher.poll_once())}
    assert results["on_tenant_upload"].binding_data == {
        "tenant": "acme",
        "name": "logo.v2",
        "ext": "png",
    }
    # `{name}` is greedy like the host's templates, so it spans the virtual folder.
    assert results["on_upload"].binding_data == {"name": "photos/dish 1.jpg"}
    (call,) = recorder.of("on_upload")
    assert call["name"] == f"{container}/photos/dish 1.jpg"
    assert call["uri"].endswith(f"/{container}/photos/dish%201.jpg")
    assert call["length"] == len(b"\xff\xd8 jpeg bytes") and call["data"] == b"\xff\xd8 jpeg bytes"
    assert [c["data"] for c in recorder.of("on_tenant_upload")] == [b"png"]


def test_failing_twice_then_succeeding_is_retried(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    recorder = Recorder()
    functions = build_app(container, recorder, failures={"flaky.txt": 2}).get_functions()
    watcher = watcher_for(functions, connection)
    upload(blobs, container, "flaky.txt", b"x")

    (result,) = run(watcher.poll_once())
    assert result.succeeded and result.attempts == 3
    assert len(recorder.of("on_upload")) == 3
    assert run(watcher.poll_once()) == []


def test_always_failing_blob_lands_in_poison_once(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    recorder = Recorder()
    functions = build_app(container, recorder, failures={"bad.txt": 99}).get_functions()
    watcher = watcher_for(functions, connection, max_attempts=3)
    upload(blobs, container, "bad.txt", b"x")

    (result,) = run(watcher.poll_once())
    assert not result.succeeded and result.attempts == 3
    assert "planned failure 3" in (result.error or "")
    assert len(recorder.of("on_upload")) == 3
    assert run(watcher.poll_once()) == []
    assert run(watcher_for(functions, connection, max_attempts=3).poll_once()) == []
    assert len(recorder.of("on_upload")) == 3

    rows = poison_rows(connection, f"{container}/bad.txt")
    assert [(r["function"], r["etag"], r["attempts"]) for r in rows] == [
        ("on_upload", result.etag, 3)
    ]
    assert "planned failure 3" in rows[0]["error"]


def test_run_loop_keeps_delivering_while_a_blob_backs_off(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    recorder = Recorder()
    functions = build_app(container, recorder, failures={"slow.txt": 1}).get_functions()
    watcher = watcher_for(functions, connection, backoff_base=1.0)

    async def wait_for_calls(count: int) -> None:
        for _ in range(100):
            if len(recorder.of("on_upload")) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} calls, got {recorder.of('on_upload')}")

    async def scenario() -> None:
        task = asyncio.create_task(watcher.run())
        try:
            await asyncio.to_thread(upload, blobs, container, "slow.txt", b"slow")
            await wait_for_calls(1)
            await asyncio.to_thread(upload, blobs, container, "fast.txt", b"fast")
            await wait_for_calls(3)
            await asyncio.sleep(0.6)  # Further scans must not fire either blob again.
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(scenario())
    calls = recorder.of("on_upload")
    # fast.txt went through during slow.txt's one-second backoff, which then retried and passed.
    assert [c["data"] for c in calls] == [b"slow", b"fast", b"slow"]
    assert calls[2]["at"] - calls[0]["at"] >= 0.95


@pytest.mark.parametrize(
    ("pattern", "blob", "expected"),
    [
        ("c01/{name}", "a/b.txt", {"name": "a/b.txt"}),
        ("c01/in/{t}/{name}.{ext}", "in/t1/x.y.jpg", {"t": "t1", "name": "x.y", "ext": "jpg"}),
        ("c01/in/{name}", "out/x", None),
        ("c01/{{literal}}/{name}", "{literal}/x", {"name": "x"}),
        ("c01/fixed.txt", "fixed.txt", {}),
    ],
)
def test_blob_path_matching(pattern: str, blob: str, expected: dict[str, str] | None) -> None:
    assert BlobPath.parse(pattern).match(blob) == expected


@pytest.mark.parametrize(
    "pattern", ["c01", "c01/", "{x}/{name}", "c01/{name", "c01/{a}/{a}", "ab/{name}"]
)
def test_blob_path_rejects_malformed(pattern: str) -> None:
    with pytest.raises(ValueError, match="blob trigger path"):
        BlobPath.parse(pattern)


def test_unsuppliable_binding_is_rejected_at_start_up(connection: str) -> None:
    import azure.functions as func

    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="c01/{name}", connection="AzureWebJobsStorage")
    @app.blob_output(arg_name="thumb", path="thumbs/{name}", connection="AzureWebJobsStorage")
    def resize(blob: func.InputStream, thumb: func.Out[bytes]) -> None:
        thumb.set(blob.read())

    with pytest.raises(ValueError, match=r"'resize'.*'thumb'"):
        watcher_for(app.get_functions(), connection)


def test_missing_connection_setting_is_rejected(connection: str) -> None:
    import azure.functions as func

    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="c01/{name}", connection="NoSuchStorageSetting")
    def handle(blob: func.InputStream) -> None:
        blob.read()

    with pytest.raises(ValueError, match="NoSuchStorageSetting"):
        watcher_for(app.get_functions(), connection)


def test_a_call_over_function_timeout_is_a_failed_attempt(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    # As on the host: functionTimeout ends the invocation as a failure, which is then retried.
    app = func.FunctionApp()
    calls: list[float] = []

    @app.blob_trigger(
        arg_name="blob", path=f"{container}/{{name}}", connection="AzureWebJobsStorage"
    )
    async def stuck(blob: func.InputStream) -> None:
        calls.append(time.monotonic())
        await asyncio.sleep(60)

    watcher = watcher_for(app.get_functions(), connection, max_attempts=2, function_timeout_s=0.2)
    upload(blobs, container, "stuck.txt", b"x")
    (result,) = run(asyncio.wait_for(watcher.poll_once(), 10))
    assert not result.succeeded and result.attempts == 2 and len(calls) == 2
    assert "functionTimeout" in (result.error or "")


def test_a_second_devhost_on_the_same_azurite_does_not_fire_again_for_a_processed_blob(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    # The host reads a blob's receipt in storage before it fires: a second devhost sharing the
    # Azurite account must not deliver again what the first one already delivered.
    calls: list[bytes] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        calls.append(blob.read())

    functions = app.get_functions()
    first, second = watcher_for(functions, connection), watcher_for(functions, connection)
    # Both devhosts are up and have scanned the (still empty) container once.
    assert run(first.poll_once()) == [] and run(second.poll_once()) == []

    upload(blobs, container, "menu.csv", b"v1")
    assert len(run(first.poll_once())) == 1
    assert calls == [b"v1"]

    repeated = run(second.poll_once())
    assert [r.blob for r in repeated] == [], "the second devhost delivered the blob again"
    assert calls == [b"v1"]


def test_a_blob_deleted_during_retry_backoff_is_not_retried_nor_poisoned(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    # The host reads the blob again for every attempt and drops the message once it is gone.
    calls: list[bytes] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        calls.append(blob.read())
        # The upload is withdrawn (deleted) while this attempt fails on a transient error.
        blobs.get_blob_client(container, "withdrawn.txt").delete_blob()
        raise RuntimeError("database unavailable")

    watcher = watcher_for(app.get_functions(), connection)
    upload(blobs, container, "withdrawn.txt", b"gone soon")
    run(watcher.poll_once())

    assert calls == [b"gone soon"], f"invoked {len(calls)} times for a deleted blob"
    assert poison_rows(connection, f"{container}/withdrawn.txt") == []


def test_a_retry_after_the_blob_was_overwritten_does_not_replay_the_old_content(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    # The host sees the ETag changed, drops the old message and delivers the new version only.
    calls: list[bytes] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        data = blob.read()
        calls.append(data)
        if data == b"v1" and len(calls) == 1:
            # A corrected file replaces the first one while its first attempt fails.
            upload(blobs, container, "prices.csv", b"v2")
            raise RuntimeError("transient failure")

    watcher = watcher_for(app.get_functions(), connection)
    upload(blobs, container, "prices.csv", b"v1")
    run(watcher.poll_once())
    run(watcher.poll_once())

    assert calls == [b"v1", b"v2"], f"invocations saw {calls}"


def test_an_app_setting_in_the_trigger_path_is_resolved(
    monkeypatch: pytest.MonkeyPatch, connection: str, container: str, blobs: BlobServiceClient
) -> None:
    # The host resolves `%Setting%` in a trigger path from the app settings.
    monkeypatch.setenv("REVIEW_UPLOADS_CONTAINER", container)
    calls: list[str] = []
    app = func.FunctionApp()

    @app.blob_trigger(
        arg_name="blob", path="%REVIEW_UPLOADS_CONTAINER%/{name}", connection=DEFAULT_CONNECTION
    )
    def on_upload(blob: func.InputStream) -> None:
        calls.append(blob.name or "")

    upload(blobs, container, "logo.png", b"png")
    watcher = watcher_for(app.get_functions(), connection)
    run(watcher.poll_once())
    assert calls == [f"{container}/logo.png"]


def test_a_trigger_whose_container_cannot_be_listed_does_not_stop_the_others(
    connection: str, container: str, blobs: BlobServiceClient, caplog
) -> None:
    # As the host's listeners: each trigger is watched on its own.
    calls: list[str] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="Not_A_Container/{name}", connection=DEFAULT_CONNECTION)
    def broken(blob: func.InputStream) -> None:
        calls.append("broken")

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def working(blob: func.InputStream) -> None:
        calls.append(blob.name or "")

    upload(blobs, container, "a.txt", b"a")
    run(watcher_for(app.get_functions(), connection).poll_once())
    assert calls == [f"{container}/a.txt"]
    assert "blob trigger scan for broken failed" in caplog.text
