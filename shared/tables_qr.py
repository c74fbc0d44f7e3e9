"""Table QR tokens: `<table id>.<qr version>.<HMAC over tenant, table and version>`.

The tenant is signed but not spelled out (the host names it), so a token from another
restaurant fails the signature. Rotating a table bumps its qr_version: old codes still verify
cryptographically but no longer match the table's version, so they are refused.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from shared.signing import sign, verify

PURPOSE = "table-qr"
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([1-9][0-9]{0,8})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Table:
    id: str
    label: str
    qr_version: int


def table_token(tenant_id: str, table_id: str, qr_version: int) -> str:
    """The token printed in a table's QR code for its current version."""
    table_hex = uuid.UUID(table_id).hex
    signature = sign(PURPOSE, tenant_id, table_hex, str(qr_version))
    return f"{table_hex}.{qr_version}.{signature}"


def table_for_token(conn: psycopg.Connection, tenant_id: str, token: str) -> Table | None:
    """The table a token opens now; None when malformed, tampered, foreign or rotated."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    table_hex, version, signature = match.groups()
    if not verify(signature, PURPOSE, tenant_id, table_hex, version):
        return None
    row: dict[str, Any] | None = conn.execute(
        "select id, label, qr_version from dining_tables where id = %s and qr_version = %s",
        [uuid.UUID(table_hex), int(version)],
    ).fetchone()
    if row is None:
        return None
    return Table(str(row["id"]), row["label"], row["qr_version"])


def table_still_open(conn: psycopg.Connection, table: Table) -> Table | None:
    """The table as it is now if its code has not been rotated (nor the table deleted) since
    table_for_token; the row is then share-locked, so a rotation waits for this transaction."""
    row: dict[str, Any] | None = conn.execute(
        "select id, label, qr_version from dining_tables where id = %s and qr_version = %s "
        "for share",
        [uuid.UUID(table.id), table.qr_version],
    ).fetchone()
    return None if row is None else Table(str(row["id"]), row["label"], row["qr_version"])
