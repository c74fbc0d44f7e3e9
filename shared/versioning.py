"""Optimistic concurrency: every mutable row has `version`; writers say which one they saw.

Two ways to say it: the `If-Match` header with the ETag we sent (`"3"`), which answers 412 when
stale (RFC 9110), or `expected_version` in a body or query, which answers 409 with the current
version (design §5, like order transitions). A writer that says neither overwrites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from shared import errors

# `expected_version` in a body: a JSON integer (`true` or `"3"` must not pass as a version).
# Versions are integer columns: a larger number names none, and is not quoted back whole.
ExpectedVersion = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]

# Only the tags version_etag makes: `"02"` is another opaque tag (strong comparison is
# character by character), so it matches no version. Up to ten digits: versions run to 2**31-1.
_ETAG = re.compile(r'^"([1-9][0-9]{0,9})"$')
# A refusal quotes this many of the versions a writer listed, and counts the rest.
_QUOTED_VERSIONS = 5


def version_etag(version: int) -> str:
    """The ETag of a row or profile at version: `"3"`."""
    return f'"{version}"'


@dataclass(frozen=True)
class Expected:
    """The versions a writer accepts (one, unless If-Match listed several), and whether they
    came from If-Match (412) or a body (409)."""

    versions: tuple[int, ...]
    from_if_match: bool

    @classmethod
    def of(cls, version: int, *, from_if_match: bool) -> Expected:
        return cls((version,), from_if_match)

    def check(self, current: int, what: str, **state: Any) -> None:
        """Raise 412 or 409 unless current is a version the writer accepts; `state` (what the
        row is now) goes into either body beside current_version, so a display that sent
        If-Match learns as much as one that sent expected_version."""
        if current in self.versions:
            return
        saw = _listed(self.versions)
        if self.from_if_match:
            raise errors.precondition_failed(
                f"The {what} is at version {current}, not {saw} as If-Match says; "
                "fetch it again and reapply your change",
                current_version=current,
                **state,
            )
        raise errors.conflict(
            f"The {what} is at version {current}, not expected_version {saw}; "
            "fetch it again and reapply your change",
            current_version=current,
            **state,
        )

    def check_since(self, changed_at: int, current: int, what: str) -> None:
        """As check, for the part of a record a write replaces: any version the writer saw
        from that part's last change (changed_at) to current will do, so a change of another
        part since is no conflict."""
        if not any(changed_at <= version <= current for version in self.versions):
            self.check(current, what)


def _listed(versions: tuple[int, ...]) -> str:
    """`3`, `3 or 4`, or `3 or 4 or … (and 4,995 more)`: bounded whatever If-Match listed."""
    distinct = list(dict.fromkeys(versions))
    quoted = " or ".join(str(version) for version in distinct[:_QUOTED_VERSIONS])
    more = len(distinct) - _QUOTED_VERSIONS
    return f"{quoted} (and {more:,} more)" if more > 0 else quoted


def expected_version(if_match: str | None, body_version: int | None) -> Expected | None:
    """What the writer expects: If-Match wins over expected_version; `*` matches any version,
    so an expected_version sent with it still counts.

    If-Match may list several ETags (RFC 9110 §13.1.1; two merged headers look so): it holds
    when any strong ETag we issued matches. Weak or foreign tags never match.
    """
    tags = [tag.strip() for tag in (if_match or "").split(",") if tag.strip()]
    if if_match is not None and not tags:
        # Sent but empty (an editor whose ETag variable came out blank): a list of no ETags
        # matches none (RFC 9110 §13.1.1), and treating it as absent would write blindly.
        raise errors.precondition_failed(
            'If-Match lists no ETag; send the ETag you were given, such as "3" (or *)'
        )
    if tags:
        if tags == ["*"]:
            return _from_body(body_version)
        versions = tuple(int(m.group(1)) for tag in tags if (m := _ETAG.match(tag)))
        if not versions:
            # An ETag we never issued cannot match the current one.
            raise errors.precondition_failed(
                'If-Match must be an ETag this API sent, such as "3" (or *)'
            )
        return Expected(versions, from_if_match=True)
    return _from_body(body_version)


def _from_body(body_version: int | None) -> Expected | None:
    return None if body_version is None else Expected.of(body_version, from_if_match=False)


def required_version(
    if_match: str | None, body_version: int | None, etag_example: str = ""
) -> Expected:
    """expected_version() for a write that must name the version it saw (422 otherwise)."""
    expected = expected_version(if_match, body_version)
    if expected is not None:
        return expected
    example = f" with {etag_example}" if etag_example else ""
    if (if_match or "").strip() == "*":
        detail = f"is required: If-Match: * names no version (send the ETag{example})"
        raise errors.invalid_field("expected_version", detail)
    raise errors.invalid_field("expected_version", f"is required (or send If-Match{example})")
