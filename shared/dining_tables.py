"""Dining tables a restaurant seats guests at, and the QR codes that order to them."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Annotated, Any

import psycopg
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from shared import errors
from shared.patches import Patch
from shared.tables_qr import table_token
from shared.text_rules import check_single_line, invisible_character
from shared.versioning import Expected, ExpectedVersion

MAX_LABEL = 40  # the column's check


def _as_seen(label: str) -> str:
    """One spelling per label staff can tell apart by sight: NFKC (a no-break space is a space),
    no characters that show as nothing but spaces, single spaces. Unique up to case then holds."""
    label = "".join(
        ch
        for ch in unicodedata.normalize("NFKC", label)
        if ch.isspace() or not invisible_character(ch)
    )
    return " ".join(label.split())


def _fits(label: str) -> str:
    # NFKC may lengthen a label ("½" is three characters): the stored spelling is what counts.
    if len(label) > MAX_LABEL:
        raise PydanticCustomError(
            "string_too_long", "must be at most {max} characters", {"max": MAX_LABEL}
        )
    return label


Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL),
    AfterValidator(check_single_line),
    AfterValidator(_as_seen),
    AfterValidator(_fits),
]
MAX_TABLES = 500
Seats = Annotated[int, Field(ge=1, le=100, strict=True)]


class TableIn(BaseModel):
    """A table as an admin creates or replaces it."""

    model_config = ConfigDict(extra="forbid")

    label: Label
    seats: Seats | None = None
    expected_version: ExpectedVersion | None = None


class TablePatch(Patch):
    """Only what is sent changes (a PUT without `seats` clears them); null clears `seats`."""

    NULLABLE = frozenset({"seats", "expected_version"})
    label: Label | None = None
    seats: Seats | None = None


def table_id_or_404(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise errors.not_found("No such table") from None


def present(row: dict[str, Any], tenant_id: str, domain: str) -> dict[str, Any]:
    """A table with the token and storefront URL its QR code should carry."""
    token = table_token(tenant_id, str(row["id"]), row["qr_version"])
    return {
        "id": str(row["id"]),
        "label": row["label"],
        "seats": row["seats"],
        "version": row["version"],
        "qr_version": row["qr_version"],
        "qr_token": token,
        "qr_url": f"https://{domain}/?table={token}",
    }


_COLUMNS = "id, label, seats, qr_version, version"


def list_tables(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return conn.execute(
        f"select {_COLUMNS} from dining_tables order by lower(label) limit %s", [MAX_TABLES]
    ).fetchall()


def get_table(
    conn: psycopg.Connection, table_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any]:
    locking = " for update" if lock else ""
    row = conn.execute(
        f"select {_COLUMNS} from dining_tables where id = %s{locking}", [table_id]
    ).fetchone()
    if row is None:
        raise errors.not_found("No such table")
    return row


def _label_taken(label: str) -> errors.ProblemError:
    return errors.conflict(f"A table is already labelled {label!r}; choose another label")


def _take_turns(conn: psycopg.Connection) -> None:
    """Writers of a restaurant's tables one at a time, so two cannot both add the last table
    allowed, or both take labels that are one label (see _check_label_free)."""
    conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('stelly.tables.' || current_schema(), 0))"
    )


def _check_label_free(
    conn: psycopg.Connection, label: str, table_id: uuid.UUID | None = None
) -> None:
    """409 when another table's label is this one up to case. The unique index compares
    Postgres's lower(), which leaves "Straße" and "STRASSE", or "ΟΔΟΣ" and "οδος", apart;
    full case folding (≤ MAX_TABLES labels to compare) does not."""
    folded = label.casefold()
    others = conn.execute(
        "select label from dining_tables where id is distinct from %s", [table_id]
    ).fetchall()
    if any(row["label"].casefold() == folded for row in others):
        raise _label_taken(label)


def create_table(conn: psycopg.Connection, table: TableIn) -> dict[str, Any]:
    """A new table; 409 when its label is taken or the restaurant has MAX_TABLES already (the
    list shows that many, so a table past it could never be found again)."""
    _take_turns(conn)
    count = conn.execute("select count(*) as n from dining_tables").fetchone()["n"]
    if count >= MAX_TABLES:
        raise errors.conflict(
            f"This restaurant has {count} tables, the most it may have; delete one first"
        )
    _check_label_free(conn, table.label)
    try:
        with conn.transaction():
            return conn.execute(
                f"insert into dining_tables (label, seats) values (%s, %s) returning {_COLUMNS}",
                [table.label, table.seats],
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _label_taken(table.label) from None


def update_table(
    conn: psycopg.Connection,
    table_id: uuid.UUID,
    changes: TableIn | TablePatch,
    expected: Expected,
) -> dict[str, Any]:
    """Replace label and seats (TableIn) or those sent (TablePatch) if the table is still at the
    expected version (409/412)."""
    # Locked until the update: two editors who both read version 1 must not both succeed.
    current = get_table(conn, table_id, lock=True)
    expected.check(current["version"], "table")
    table = _replacement(current, changes)
    # Only a new label is checked: two labels saved before the check existed ("Straße" and
    # "STRASSE") must not make every other edit of either table a 409.
    if table.label.casefold() != current["label"].casefold():
        _take_turns(conn)
        _check_label_free(conn, table.label, table_id)
    try:
        with conn.transaction():
            return conn.execute(
                f"""update dining_tables set label = %s, seats = %s, version = version + 1,
                        updated_at = now() where id = %s returning {_COLUMNS}""",
                [table.label, table.seats, table_id],
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _label_taken(table.label) from None


def _replacement(current: dict[str, Any], changes: TableIn | TablePatch) -> TableIn:
    if isinstance(changes, TableIn):
        return changes
    kept = {"label": current["label"], "seats": current["seats"]}
    return TableIn.model_construct(**(kept | changes.changes()))


def delete_table(
    conn: psycopg.Connection, table_id: uuid.UUID, expected: Expected | None = None
) -> None:
    """Remove a table (when it is still at a version the writer expects, if it named one); its
    orders keep the label they were placed at."""
    row = get_table(conn, table_id, lock=True)
    if expected is not None:
        expected.check(row["version"], "table")
    conn.execute("delete from dining_tables where id = %s", [table_id])


def rotate_qr(conn: psycopg.Connection, table_id: uuid.UUID) -> dict[str, Any]:
    """Bump the QR version: every code printed before stops working."""
    row = conn.execute(
        f"""update dining_tables set qr_version = qr_version + 1, version = version + 1,
                updated_at = now() where id = %s returning {_COLUMNS}""",
        [table_id],
    ).fetchone()
    if row is None:
        raise errors.not_found("No such table")
    return row
