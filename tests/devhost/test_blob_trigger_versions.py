"""Blob triggers across blob versions, connection settings and functions: each version of a
blob gets its own attempts and poison row, and a function sees what was uploaded."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest
from azure.storage.blob import BlobServiceClient, ContentSettings

from devhost.blob_triggers import DEFAULT_CONNECTION
from tests.devhost.test_blob_triggers import poison_rows, run, upload, watcher_for


def recording_app(container: str, calls: list[Any], name: str = "on_upload") -> func.FunctionApp:
    """One blob trigger on `container` that records what the function was handed."""
    app = func.FunctionApp()

    def handler(blob: func.InputStream) -> None:
        calls.append((name, blob.read(), blob.metadata, blob.blob_properties))

    handler.__name__ = name
    app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)(
        handler
    )
    return app


def test_an_overwritten_blob_gets_every_attempt_for_its_new_version(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    """A blob overwritten while its first version is being retried: as the host drops v1's
    message, v2 gets a fresh set of attempts and a failure of its own is retried, not poisoned."""
    calls: list[bytes] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        data = blob.read()
        calls.append(data)
        if data == b"v1":
            upload(blobs, container, "prices.csv", b"v2")  # corrected while v1 fails
            raise RuntimeError("transient failure")
        if calls.count(b"v2") == 1:
            raise RuntimeError("transient failure")

    watcher = watcher_for(app.get_functions(), connection, max_attempts=2)
    upload(blobs, container, "prices.csv", b"v1")
    run(watcher.poll_once())
    results = run(watcher.poll_once())

    assert calls == [b"v1", b"v2", b"v2"]
    assert [(r.succeeded, r.attempts) for r in results] == [(True, 2)]
    assert poison_rows(connection, f"{container}/prices.csv") == []


def test_each_poisoned_version_of_a_blob_keeps_its_own_poison_row(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    """The host queues one poison message per failed version: the second version's row does
    not overwrite the first one's."""
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        raise RuntimeError(f"cannot read {blob.read()!r}")

    watcher = watcher_for(app.get_functions(), connection, max_attempts=1)
    upload(blobs, container, "menu.csv", b"v1")
    (first,) = run(watcher.poll_once())
    upload(blobs, container, "menu.csv", b"v2")
    (second,) = run(watcher.poll_once())

    rows = poison_rows(connection, f"{container}/menu.csv")
    assert sorted(r["etag"] for r in rows) == sorted([first.etag, second.etag])


def test_a_huge_error_message_still_poisons_the_blob_once(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    """An error longer than a table property holds is cut to fit the poison row, so the blob is
    poisoned once and never delivered again."""
    calls: list[bytes] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        calls.append(blob.read())
        raise ValueError("bad row: " + "x" * 100_000)

    watcher = watcher_for(app.get_functions(), connection, max_attempts=1)
    upload(blobs, container, "import.csv", b"rows")
    run(watcher.poll_once())
    run(watcher.poll_once())

    assert calls == [b"rows"]
    (row,) = poison_rows(connection, f"{container}/import.csv")
    assert row["error"].startswith("ValueError: bad row: xxx")


def test_a_connection_setting_in_its_legacy_azurewebjobs_spelling_is_used(
    monkeypatch: pytest.MonkeyPatch, connection: str, container: str, blobs: BlobServiceClient
) -> None:
    """As the host does, `connection="ReviewUploads"` is read from `AzureWebJobsReviewUploads`
    too."""
    monkeypatch.setenv("AzureWebJobsReviewUploads", connection)
    calls: list[bytes] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection="ReviewUploads")
    def on_upload(blob: func.InputStream) -> None:
        calls.append(blob.read())

    upload(blobs, container, "logo.png", b"png")
    run(watcher_for(app.get_functions(), connection).poll_once())
    assert calls == [b"png"]


def test_a_parameter_with_a_default_is_not_a_binding_devhost_must_supply(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    """A function with an optional keyword parameter is not refused at start-up: it runs with
    its default."""
    calls: list[tuple[bytes, int]] = []
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream, max_width: int = 1200) -> None:
        calls.append((blob.read(), max_width))

    upload(blobs, container, "hero.jpg", b"jpeg")
    run(watcher_for(app.get_functions(), connection).poll_once())
    assert calls == [(b"jpeg", 1200)]


def test_the_function_sees_the_blob_s_metadata_and_properties(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    """`func.InputStream`'s `.metadata` and `.blob_properties` carry what was uploaded, the ETag
    bare and equal to the delivered version's (functions/images.py hands it on to a conditional
    delete)."""
    calls: list[Any] = []
    watcher = watcher_for(recording_app(container, calls).get_functions(), connection)
    client = blobs.get_container_client(container)
    client.create_container()
    client.upload_blob(
        "acme/logo.png", b"png", metadata={"uploadedby": "owner-7"},
        content_settings=ContentSettings(content_type="image/png"),
    )  # fmt: skip
    (result,) = run(watcher.poll_once())

    ((_, data, metadata, properties),) = calls
    assert data == b"png" and metadata == {"uploadedby": "owner-7"}
    assert properties["ContentType"] == "image/png" and properties["ContentLength"] == 3
    assert properties["ETag"] == result.etag and not properties["ETag"].startswith('"')


def test_a_function_added_later_fires_for_a_blob_another_function_already_took(
    connection: str, container: str, blobs: BlobServiceClient
) -> None:
    """Receipts are per function: a second function deployed later on the same container gets
    the blobs the first one already processed."""
    calls: list[Any] = []
    upload(blobs, container, "menu.csv", b"v1")
    first_deploy = recording_app(container, calls, "on_upload").get_functions()
    assert len(run(watcher_for(first_deploy, connection).poll_once())) == 1

    second_deploy = [
        *recording_app(container, calls, "on_upload").get_functions(),
        *recording_app(container, calls, "index_upload").get_functions(),
    ]
    results = run(watcher_for(second_deploy, connection).poll_once())
    assert [r.function for r in results] == ["index_upload"]
    assert [name for name, *_ in calls] == ["on_upload", "index_upload"]
