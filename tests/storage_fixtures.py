"""Table Storage out of reach, for tests of what a storage outage leaves behind."""

from __future__ import annotations

from azure.data.tables import TableClient

from devhost.services import AzuritePorts, free_port


def unreachable_table(name: str) -> TableClient:
    """A client for table `name` at an address where nothing answers, failing at once (no
    retries): monkeypatch a module's `table` with it."""
    port = free_port()
    return TableClient.from_connection_string(
        AzuritePorts(port, port, port).connection_string(), name, retry_total=0
    )
