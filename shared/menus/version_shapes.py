"""The shapes of published menu versions as editors read them (a publish's answer, the version
history, one version with its snapshot), for the API description.

The rows are read as plain dicts (shared/menus/publish.py, published.py); these closed models
only describe them, and tests/test_openapi_admin_answers.py checks real answers against the
served description.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.answer_shape import AnswerShape
from shared.store_answer_shapes import DishOut, ImageOut, MenuGroupOut, MenuOptionOut
from shared.weekly_windows import WeeklyWindows

# publish: an editor published the draft; availability: an 86 (or a bring-back) re-issued the
# live menu; image: a processed photo did.
VersionSource = Literal["publish", "availability", "image"]


class VersionHeadOut(AnswerShape):
    """Which action made a version, who (`published_by`: the token's subject; null for the
    image pipeline or one nobody signed) and when. `etag` is the store menu's ETag then."""

    version: int
    etag: str
    source: VersionSource
    published_by: str | None
    published_at: datetime


class PublishedOut(AnswerShape):
    """`POST /api/v1/admin/menu/publish`: the new version, live at once (Location names it)."""

    version: int
    etag: str
    published_at: datetime
    source: VersionSource


class VersionsPageOut(AnswerShape):
    """Kept versions newest first; `next_cursor` (`?cursor=`) reads the older ones. Numbers can
    have gaps: a version no order was priced from goes 30 days after it was replaced."""

    live_version: int
    versions: list[VersionHeadOut]
    next_cursor: int | None


class SnapshotOptionOut(MenuOptionOut):
    """`sold_out_until` is absent in versions published before 86'ing kept an until."""

    sold_out_until: datetime | None = None


class SnapshotGroupOut(MenuGroupOut):
    options: list[SnapshotOptionOut]


class SnapshotItemOut(DishOut):
    """A dish as published: `available` as it was then (windows not applied);
    `sold_out_until` is absent in versions published before 86'ing kept an until."""

    sold_out_until: datetime | None = None
    station: str | None
    windows: WeeklyWindows | None
    image: ImageOut | None
    modifier_groups: list[SnapshotGroupOut]


class SnapshotCategoryOut(AnswerShape):
    id: str
    name: str
    rank: int
    visible: bool
    items: list[SnapshotItemOut]


class SnapshotOut(AnswerShape):
    """The menu as that version published it, hidden categories included. `currency` is absent
    in versions published before snapshots kept the restaurant's currency."""

    version: int
    published_at: datetime
    currency: str | None = None
    categories: list[SnapshotCategoryOut]


class MenuVersionOut(VersionHeadOut):
    """`GET /api/v1/admin/menu/versions/{version}`: what customers saw at that version (an
    order's `menu_version`)."""

    snapshot: SnapshotOut
