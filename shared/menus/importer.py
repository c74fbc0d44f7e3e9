"""Bulk import: a whole menu (design §5) replaces the draft menu in one transaction.

The document is validated completely before anything is written (one bad item is a 422 naming its
path, and nothing changes). Ids are made here, so every table is filled with one COPY and no
round trip per row. Modifier groups with identical definitions are created once and shared by
every item that lists them, which is how a "Toppings" group on forty pizzas should look.

Photos survive an import: a manager re-importing the menu from a spreadsheet to change prices
expects the dishes to keep their pictures, and the document has no ids to say which dish is
which. So an imported item takes the finished photo of the draft item it replaces with the same
name in a category of the same name (names compared as a reader sees them, case and look-alikes
aside: shared/menus/namesakes.py; when a category lists one name several times, the first keeps
the first's photo and so on).

So do the kitchen's 86es, for the same manager: a dish the cook ran out of (maybe "until
tomorrow") stays sold out, with its until, in an imported menu that does not say `available`
for it, and an option likewise, matched by category, item, group and option name
(shared/menus/namesakes.py: the places an 86 between an import and its publish uses). A document
that says `"available": true` brings it back.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from shared.menus.models import GroupCreate, ImportItem, MenuImport
from shared.menus.namesakes import DishKey, Place, dish_key, draft_places, name_key
from shared.migrate import has_migration

_RETIRED_TABLES = ("menu_items", "modifier_options", "modifier_groups", "menu_categories")

PhotoKey = DishKey
# A row's `available` and `sold_out_until`.
Flags = tuple[bool, datetime | None]
ON_SALE: Flags = (True, None)


def _draft_photos(conn: psycopg.Connection) -> dict[PhotoKey, deque[Jsonb]]:
    """The draft's finished photos by (category name, item name), in menu order.

    Locked as read: an upload finishing meanwhile would otherwise put its photo in the row and
    delete the one read here as unused, which the imported item would then show, broken.

    Only `image` moves: it holds finished renditions whatever the status, while an upload still
    pending names the old item and is refused (quarantined) when it lands on a retired row.
    """
    rows = conn.execute(
        """select c.name as category, i.name as item, i.image
             from menu_items i join menu_categories c on c.id = i.category_id
            where i.deleted_at is null and c.deleted_at is null and i.image is not null
            order by c.rank, c.id, i.rank, i.id
              for update of i"""
    ).fetchall()
    photos: dict[PhotoKey, deque[Jsonb]] = defaultdict(deque)
    for row in rows:
        photos[dish_key(row["category"], row["item"])].append(Jsonb(row["image"]))
    return photos


# sold_out_until read through to_jsonb: a schema before tenant migration 0010 has no column.
# An 86 whose until has passed is over: the imported row is on sale.
_DRAFT_ITEM_FLAGS = """
    select c.name as category, i.name as item,
           not i.available and coalesce(u.until > now(), true) as sold_out, u.until
      from menu_items i join menu_categories c on c.id = i.category_id,
           lateral (select (to_jsonb(i) ->> 'sold_out_until')::timestamptz as until) u
     where i.deleted_at is null and c.deleted_at is null
     order by c.rank, c.id, i.rank, i.id"""
_DRAFT_SOLD_OUT_OPTIONS = """
    select o.id, u.until
      from modifier_options o,
           lateral (select (to_jsonb(o) ->> 'sold_out_until')::timestamptz as until) u
     where o.deleted_at is null and not o.available and coalesce(u.until > now(), true)"""


def _draft_items_flags(conn: psycopg.Connection) -> dict[PhotoKey, deque[Flags]]:
    """Every live item's flags by (category name, item name) in menu order, so a name listed
    twice pairs first with first, as photos do."""
    flags: dict[PhotoKey, deque[Flags]] = defaultdict(deque)
    for row in conn.execute(_DRAFT_ITEM_FLAGS).fetchall():
        state = (False, row["until"]) if row["sold_out"] else ON_SALE
        flags[dish_key(row["category"], row["item"])].append(state)
    return flags


def _draft_sold_out_options(conn: psycopg.Connection) -> dict[Place, Flags]:
    """The sold-out options by where they stand: the dish they are on (a name listed twice
    pairs first with first, as items do), their group's name and their own (the draft shares
    a group between items, so an 86'd option is on each of them)."""
    sold_out = {row["id"]: (False, row["until"]) for row in conn.execute(_DRAFT_SOLD_OUT_OPTIONS)}
    if not sold_out:
        return {}
    return {
        place: sold_out[option_id]
        for option_id, place in draft_places(conn, "modifier_options")
        if option_id in sold_out
    }


def _copy(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _retire_draft(conn: psycopg.Connection) -> int:
    """Soft-delete every live row of the draft; the number of items retired."""
    retired = 0
    for table in _RETIRED_TABLES:
        cursor = conn.execute(
            sql.SQL(
                "update {} set deleted_at = now(), version = version + 1, updated_at = now()"
                " where deleted_at is null"
            ).format(sql.Identifier(table))
        )
        if table == "menu_items":
            retired = cursor.rowcount
    return retired


class _Rows:
    """The rows of each table, built from the document in menu order."""

    def __init__(
        self,
        photos: dict[PhotoKey, deque[Jsonb]],
        item_flags: dict[PhotoKey, deque[Flags]],
        sold_out_options: dict[Place, Flags],
    ) -> None:
        self._photos = photos
        self._item_flags = item_flags
        self._sold_out_options = sold_out_options
        self.photos_kept = 0
        self.sold_out_kept = 0
        self.categories: list[tuple[Any, ...]] = []
        self.items: list[tuple[Any, ...]] = []
        self.groups: list[tuple[Any, ...]] = []
        self.options: list[tuple[Any, ...]] = []
        self.links: list[tuple[Any, ...]] = []
        self._group_ids: dict[tuple[str, tuple[Any, ...]], uuid.UUID] = {}

    def group_id(self, group: GroupCreate, dish: tuple[DishKey, int]) -> uuid.UUID:
        """The group's id, its rows made the first time. Groups are shared by identical
        definition and identical 86es: in the draft, a dish with Basil 86'd and one with Basil
        on sale cannot have shared one, and a merge would put one's Basil back on sale."""
        flags = [
            self._flags(
                "available" in option.model_fields_set,
                (option.available, None),
                self._sold_out_options.get(
                    (*dish, name_key(group.name), name_key(option.name)), ON_SALE
                ),
            )
            for option in group.options
        ]
        key = (group.model_dump_json(), tuple(flags))
        found = self._group_ids.get(key)
        if found is not None:
            return found
        group_id = uuid.uuid4()
        self._group_ids[key] = group_id
        self.groups.append((group_id, group.name, group.min, group.max, group.free_quantity))
        for rank, (option, ((available, until), kept)) in enumerate(
            zip(group.options, flags, strict=True)
        ):
            self.sold_out_kept += kept
            self.options.append(
                (uuid.uuid4(), group_id, option.name, option.price_delta, option.default,
                 available, rank, until)
            )  # fmt: skip
        return group_id

    @staticmethod
    def _flags(said: bool, given: Flags, drafted: Flags) -> tuple[Flags, bool]:
        """What an imported row gets (what the document says, else the draft's 86), and
        whether that is a kept 86."""
        if said or drafted[0]:
            return given, False
        return drafted, True

    def _item_flags_for(self, item: ImportItem, dish: PhotoKey) -> Flags:
        waiting = self._item_flags.get(dish)
        drafted = waiting.popleft() if waiting else ON_SALE
        said = "available" in item.model_fields_set
        flags, kept = self._flags(said, (item.available, None), drafted)
        self.sold_out_kept += kept
        return flags

    def _photo_for(self, category: str, item: str) -> Jsonb | None:
        waiting = self._photos.get(dish_key(category, item))
        if not waiting:
            return None
        self.photos_kept += 1
        return waiting.popleft()

    def add(self, menu: MenuImport) -> None:
        seen: Counter[DishKey] = Counter()
        for category_rank, category in enumerate(menu.categories):
            category_id = uuid.uuid4()
            self.categories.append((category_id, category.name, category_rank, category.visible))
            for rank, item in enumerate(category.items):
                item_id = uuid.uuid4()
                windows = Jsonb(item.windows.as_data()) if item.windows is not None else None
                image = self._photo_for(category.name, item.name)
                dish = dish_key(category.name, item.name)
                available, until = self._item_flags_for(item, dish)
                self.items.append(
                    (item_id, category_id, item.name, item.description, item.price,
                     item.allergens, item.dietary, available, windows, item.station, rank,
                     image, "none" if image is None else "ready", until)
                )  # fmt: skip
                place = (dish, seen[dish])
                seen[dish] += 1
                for group_rank, group in enumerate(item.modifier_groups):
                    self.links.append((item_id, self.group_id(group, place), group_rank))


def import_menu(conn: psycopg.Connection, menu: MenuImport) -> dict[str, int]:
    """Replace the draft with menu; counts of what was created, of the items it replaced, and
    of the photos and 86es carried over from them."""
    rows = _Rows(_draft_photos(conn), _draft_items_flags(conn), _draft_sold_out_options(conn))
    rows.add(menu)
    replaced = _retire_draft(conn)
    # Before tenant migration 0010 there is no until to keep, nor a column to hold one: item
    # and option rows end with their until, cut off then.
    untils = ("sold_out_until",) if has_migration(conn, 10) else ()
    width = None if untils else -1
    _copy(conn, "menu_categories", ("id", "name", "rank", "visible"), rows.categories)
    _copy(
        conn,
        "modifier_groups",
        ("id", "name", "min_choices", "max_choices", "free_quantity"),
        rows.groups,
    )
    _copy(
        conn,
        "modifier_options",
        ("id", "group_id", "name", "price_delta", "is_default", "available", "rank", *untils),
        (row[:width] for row in rows.options),
    )
    _copy(
        conn,
        "menu_items",
        ("id", "category_id", "name", "description", "price", "allergens", "dietary",
         "available", "windows", "station", "rank", "image", "image_status", *untils),
        (row[:width] for row in rows.items),
    )  # fmt: skip
    _copy(conn, "item_modifier_groups", ("item_id", "group_id", "rank"), rows.links)
    return {
        "categories": len(rows.categories),
        "items": len(rows.items),
        "modifier_groups": len(rows.groups),
        "options": len(rows.options),
        "replaced_items": replaced,
        "photos_kept": rows.photos_kept,
        "sold_out_kept": rows.sold_out_kept,
    }
