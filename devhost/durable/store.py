"""Instances and history in Azure Table Storage (Azurite locally), within the service's limits.

Tables: `<hub>Instances` (one row per instance, PartitionKey = instance id, RowKey "") and
`<hub>History` (PartitionKey = instance id). History has one row per episode
(`<execution>|e|<episode>|<part>`: its events and the engine's bookkeeping as JSON), so an
episode is committed by one transaction of upserts. Inbox rows (`i|<time>|<rand>`) hold raised
events and terminate requests acknowledged but not yet processed; value rows
(`<execution>|v|<field>|<part>`) hold instance inputs/outputs too big for the instance row.
A string property holds at most 32K UTF-16 units and an entity at most 1 MiB, so text is cut into
chunks, several per row, and into several rows when needed.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

_CHUNK_UNITS = 32_000  # UTF-16 units per string property (the service allows 32K)
_CHUNKS_PER_ROW = 14  # 14 x 64 KB stays under the 1 MiB entity limit
_INLINE_CHUNKS = 4  # per instance-row field; three fields then stay well under 1 MiB
_ROWS_PER_TRANSACTION = 3  # a transaction carries at most 4 MiB
_KEY_UNSAFE = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")
_VALUE_FIELDS = ("Input", "Output", "CustomStatus")


def table_names(hub: str) -> tuple[str, str]:
    """`<hub>Instances` and `<hub>History`, made legal: alphanumeric, starting with a letter."""
    base = re.sub(r"[^A-Za-z0-9]", "", hub) or "DurableHub"
    if not base[0].isalpha():
        base = "h" + base
    base = base[: 63 - len("Instances")]
    return f"{base}Instances", f"{base}History"


def partition_key(instance_id: str) -> str:
    """Instance ids may hold characters keys forbid; percent-encode those."""
    return _KEY_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", instance_id)


def split_text(text: str) -> list[str]:
    """Chunks of at most 32K UTF-16 units (a non-ASCII character may take two)."""
    size = _CHUNK_UNITS if text.isascii() else _CHUNK_UNITS // 2
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _chunk_rows(chunks: list[str]) -> list[list[str]]:
    """Group chunks into rows of at most _CHUNKS_PER_ROW."""
    return [chunks[i : i + _CHUNKS_PER_ROW] for i in range(0, len(chunks), _CHUNKS_PER_ROW)]


def _row_text(entity: dict) -> str:
    """The text a row's chunks hold."""
    return "".join(entity[f"d{i}"] for i in range(entity["n"]))


def _blob_entities(pk: str, prefix: str, text: str) -> list[dict]:
    """Rows holding text under prefix, all tagged with one write token."""
    groups = _chunk_rows(split_text(text))
    write = secrets.token_hex(6)  # tells this write's rows from those of an earlier attempt
    return [
        {
            "PartitionKey": pk,
            "RowKey": f"{prefix}|{part:03d}",
            "Write": write,
            "Parts": len(groups),
            "n": len(group),
            **{f"d{i}": chunk for i, chunk in enumerate(group)},
        }
        for part, group in enumerate(groups)
    ]


def _inbox_key(row_key: str) -> str:
    """The message a row belongs to: `i|<ns>|<rand>`, its parts adding `|NNN`."""
    return row_key if row_key.count("|") == 2 else row_key.rsplit("|", 1)[0]


def _inbox_text(rows: list[dict]) -> str | None:
    """A message's JSON text; None while its write is incomplete (a single row: older devhost)."""
    if len(rows) == 1 and "Write" not in rows[0]:
        return _row_text(rows[0])
    return _assemble(rows)


def _assemble(rows: list[dict], write: str | None = None) -> str | None:
    """The text of a complete write among rows (a failed write may have left other parts)."""
    writes: dict[str, list[dict]] = {}
    for row in rows:
        writes.setdefault(row["Write"], []).append(row)
    for token, group in writes.items():
        if len(group) == group[0]["Parts"] and write in (None, token):
            return "".join(_row_text(row) for row in sorted(group, key=lambda r: r["RowKey"]))
    return None


@dataclass
class InstanceRecord:
    """One instance's row: identity, status and JSON-text input/output/custom status."""

    instance_id: str
    name: str
    execution_id: str
    status: str
    created: datetime
    updated: datetime
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    version: str = ""
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None
    parent_task_id: int | None = None

    def values(self) -> dict[str, str | None]:
        """The text fields by their column names."""
        return {"Input": self.input, "Output": self.output, "CustomStatus": self.custom_status}


class DurableStore:
    """Async access to one hub's tables through azure-data-tables."""

    def __init__(self, connection: str, hub: str) -> None:
        self._service = TableServiceClient.from_connection_string(connection)
        instances, history = table_names(hub)
        self._instances: TableClient = self._service.get_table_client(instances)
        self._history: TableClient = self._service.get_table_client(history)

    async def open(self) -> None:
        """Create the tables if needed."""
        for table in (self._instances, self._history):
            await self._service.create_table_if_not_exists(table.table_name)

    async def close(self) -> None:
        """Release the HTTP sessions."""
        await self._instances.close()
        await self._history.close()
        await self._service.close()

    async def _delete_rows(self, pk: str, keys: list[str]) -> None:
        """Delete History rows of one partition, tolerating rows already gone."""
        for start in range(0, len(keys), 100):  # a transaction holds at most 100 operations
            batch = keys[start : start + 100]
            try:
                await self._history.submit_transaction(
                    [("delete", {"PartitionKey": pk, "RowKey": key}) for key in batch]
                )
            except TableTransactionError:
                # A row went first (a purge racing a cleanup): delete the rest one by one.
                for key in batch:
                    await self._history.delete_entity(pk, key)

    async def _keys(self, query: str, **parameters: Any) -> list[str]:
        """Row keys of the History rows matching query."""
        rows = self._history.query_entities(query, parameters=parameters, select=["RowKey"])
        return [row["RowKey"] async for row in rows]

    # Instance rows -----------------------------------------------------------------------

    async def put_instance(self, rec: InstanceRecord) -> None:
        """Replace the instance row; fields too big for it go to value rows first."""
        pk = partition_key(rec.instance_id)
        entity: dict[str, Any] = {
            "PartitionKey": pk,
            "RowKey": "",
            "InstanceId": rec.instance_id,
            "Name": rec.name,
            "ExecutionId": rec.execution_id,
            "RuntimeStatus": rec.status,
            "CreatedTime": rec.created,
            "LastUpdatedTime": rec.updated,
            "Version": rec.version,
        }
        if rec.parent_instance_id is not None:
            entity["ParentInstanceId"] = rec.parent_instance_id
            entity["ParentExecutionId"] = rec.parent_execution_id
            entity["ParentTaskId"] = rec.parent_task_id
        spilled: list[tuple] = []
        for column, text in rec.values().items():
            if text is None:
                continue
            chunks = split_text(text)
            if len(chunks) <= _INLINE_CHUNKS:
                entity[f"{column}_n"] = len(chunks)
                entity.update({f"{column}_{i}": chunk for i, chunk in enumerate(chunks)})
            else:
                rows = _blob_entities(pk, f"{rec.execution_id}|v|{column}", text)
                entity[f"{column}_spill"] = rows[0]["Write"]
                spilled.extend(("upsert", row, {"mode": UpdateMode.REPLACE}) for row in rows)
        for start in range(0, len(spilled), _ROWS_PER_TRANSACTION):
            await self._history.submit_transaction(spilled[start : start + _ROWS_PER_TRANSACTION])
        await self._instances.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def _record(self, entity: dict) -> InstanceRecord:
        """An instance row back as a record, spilled values included."""
        pk, execution = entity["PartitionKey"], entity["ExecutionId"]
        values: dict[str, str | None] = {}
        for column in _VALUE_FIELDS:
            if f"{column}_n" in entity:
                values[column] = "".join(
                    entity[f"{column}_{i}"] for i in range(entity[f"{column}_n"])
                )
            elif f"{column}_spill" in entity:
                lo = f"{execution}|v|{column}|"
                rows = self._history.query_entities(
                    "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                    parameters={"pk": pk, "lo": lo, "hi": lo[:-1] + "}"},
                )
                values[column] = _assemble([row async for row in rows], entity[f"{column}_spill"])
            else:
                values[column] = None
        return InstanceRecord(
            instance_id=entity["InstanceId"],
            name=entity["Name"],
            execution_id=execution,
            status=entity["RuntimeStatus"],
            created=entity["CreatedTime"],
            updated=entity["LastUpdatedTime"],
            input=values["Input"],
            output=values["Output"],
            custom_status=values["CustomStatus"],
            version=entity.get("Version") or "",
            parent_instance_id=entity.get("ParentInstanceId"),
            parent_execution_id=entity.get("ParentExecutionId"),
            parent_task_id=entity.get("ParentTaskId"),
        )

    async def get_instance(self, instance_id: str) -> InstanceRecord | None:
        """The instance's row, or None."""
        try:
            entity = await self._instances.get_entity(partition_key(instance_id), "")
        except ResourceNotFoundError:
            return None
        return await self._record(entity)

    async def list_instances(
        self,
        statuses: Iterable[str] = (),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> list[InstanceRecord]:
        """Instance rows matching every given filter (status: any of them)."""
        clauses, parameters = ["RowKey eq ''"], {}
        statuses = list(statuses)
        if statuses:
            names = [f"@s{i}" for i in range(len(statuses))]
            # Spaces around the parentheses: the SDK substitutes @names split on whitespace.
            clauses.append("( " + " or ".join(f"RuntimeStatus eq {n}" for n in names) + " )")
            parameters.update({n[1:]: s for n, s in zip(names, statuses, strict=True)})
        if created_from is not None:
            clauses.append("CreatedTime ge @cfrom")
            parameters["cfrom"] = created_from
        if created_to is not None:
            clauses.append("CreatedTime le @cto")
            parameters["cto"] = created_to
        rows = self._instances.query_entities(" and ".join(clauses), parameters=parameters)
        return [await self._record(row) async for row in rows]

    # History rows --------------------------------------------------------------------------

    async def commit_episode(
        self, instance_id: str, execution_id: str, number: int, blob: dict
    ) -> None:
        """Write an episode; its last transaction makes it count (upserts, so safe to repeat)."""
        pk = partition_key(instance_id)
        rows = _blob_entities(pk, f"{execution_id}|e|{number:06d}", json.dumps(blob))
        ops = [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in rows]
        for start in range(0, len(ops), _ROWS_PER_TRANSACTION):
            await self._history.submit_transaction(ops[start : start + _ROWS_PER_TRANSACTION])

    async def load_execution(
        self, instance_id: str, execution_id: str
    ) -> tuple[list[dict], list[tuple[str, dict]]]:
        """Committed episode blobs in order, and the pending inbox as (row key, event)."""
        pk = partition_key(instance_id)
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        lo = f"{execution_id}|e|"
        rows = self._history.query_entities(
            query, parameters={"pk": pk, "lo": lo, "hi": lo[:-1] + "}"}
        )
        parts: dict[int, list[dict]] = {}
        async for row in rows:
            parts.setdefault(int(row["RowKey"].split("|")[2]), []).append(row)
        episodes: list[dict] = []
        for number in range(len(parts)):
            text = _assemble(parts.get(number, []))
            if text is None:
                break  # a crash cut this episode's write short: it never happened
            episodes.append(json.loads(text))
        # Inbox rows are deleted after the episode that consumed them; a crash may leave some.
        consumed = {key for episode in episodes for key in episode["consumed"]}
        inbox = []
        for key, group in (await self._inbox_rows(pk)).items():
            text = _inbox_text(group)
            if key not in consumed and text is not None:
                inbox.append((key, json.loads(text)))
        inbox.sort(key=lambda item: item[0])
        return episodes, inbox

    async def add_inbox(self, instance_id: str, event: dict) -> str:
        """Persist an acknowledged message for the instance; returns its key.

        A large event spans several rows of one write (as episodes do); a crash part-way leaves
        an incomplete write that is never read, and the caller never got its 202.
        """
        key = f"i|{time.time_ns():020d}|{secrets.token_hex(4)}"
        rows = _blob_entities(partition_key(instance_id), key, json.dumps(event))
        for start in range(0, len(rows), _ROWS_PER_TRANSACTION):
            batch = rows[start : start + _ROWS_PER_TRANSACTION]
            await self._history.submit_transaction([("create", row) for row in batch])
        return key

    async def _inbox_rows(self, pk: str) -> dict[str, list[dict]]:
        """The partition's inbox rows by message key."""
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        rows = self._history.query_entities(query, parameters={"pk": pk, "lo": "i|", "hi": "i}"})
        messages: dict[str, list[dict]] = {}
        async for row in rows:
            messages.setdefault(_inbox_key(row["RowKey"]), []).append(row)
        return messages

    async def delete_inbox(self, instance_id: str, keys: list[str]) -> None:
        """Delete the rows of inbox messages an episode consumed."""
        pk = partition_key(instance_id)
        messages = await self._inbox_rows(pk)
        wanted = set(keys)
        rows = [row["RowKey"] for key, group in messages.items() if key in wanted for row in group]
        await self._delete_rows(pk, rows)

    async def delete_history(
        self, instance_id: str, keep_execution: str | None = None, keep_inbox: bool = False
    ) -> None:
        """Delete the instance's history rows, except keep_execution's and, if asked, the inbox."""
        pk = partition_key(instance_id)
        kept = tuple(
            prefix
            for prefix, keep in ((f"{keep_execution}|", keep_execution), ("i|", keep_inbox))
            if keep
        )
        keys = [k for k in await self._keys("PartitionKey eq @pk", pk=pk) if not k.startswith(kept)]
        await self._delete_rows(pk, keys)

    async def purge(self, instance_id: str) -> None:
        """Delete the instance row and all its history."""
        await self.delete_history(instance_id)
        await self._instances.delete_entity(partition_key(instance_id), "")
