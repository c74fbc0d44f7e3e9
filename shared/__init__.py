"""Stelly domain code: no Azure Functions types in here, so it is testable on its own."""

import zoneinfo

__version__ = "0.1.0"

# Time zone rules come from the tzdata package requirements.txt pins, never from the machine:
# zoneinfo reads the system's files first, and a host image's lag behind IANA (Debian's 2025b
# here against 2026f) put Vancouver's restaurants an hour off from 1 November 2026. Set before
# any ZoneInfo is built; names are checked against the same package (weekly_windows).
zoneinfo.reset_tzpath(to=[])
