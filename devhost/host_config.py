"""What `func start` reads before it runs an app: local.settings.json and host.json."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .timespan import parse_timespan

DEFAULT_FUNCTION_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class HostConfig:
    """The host.json values devhost honours."""

    route_prefix: str = "api"
    durable_hub_name: str = "TestHubName"
    max_concurrent_activities: int = 10
    max_concurrent_orchestrations: int = 10
    max_concurrent_requests: int = 100
    function_timeout_s: float = DEFAULT_FUNCTION_TIMEOUT_S


def _timespan_seconds(value: str) -> float:
    """host.json functionTimeout, a TimeSpan (`00:05:00`, `1.00:00:00`) → seconds; `-1` means
    unbounded."""
    if value.strip() == "-1":
        return float("inf")
    try:
        interval = parse_timespan(value)
    except ValueError:
        interval = None
    if not interval:
        raise ValueError(f"host.json functionTimeout {value!r} is not a TimeSpan like 00:05:00")
    return interval.total_seconds()


def read_host_json(path: Path) -> HostConfig:
    """Parse host.json; absent keys take the host's defaults."""
    if not path.exists():
        return HostConfig()
    data = json.loads(path.read_text())
    extensions = data.get("extensions", {})
    http = extensions.get("http", {})
    durable = extensions.get("durableTask", {})
    timeout = data.get("functionTimeout")
    return HostConfig(
        route_prefix=http.get("routePrefix", "api"),
        durable_hub_name=durable.get("hubName", "TestHubName"),
        max_concurrent_activities=int(durable.get("maxConcurrentActivityFunctions", 10)),
        max_concurrent_orchestrations=int(durable.get("maxConcurrentOrchestratorFunctions", 10)),
        max_concurrent_requests=int(http.get("maxConcurrentRequests", 100)),
        function_timeout_s=_timespan_seconds(timeout) if timeout else DEFAULT_FUNCTION_TIMEOUT_S,
    )


def load_local_settings(app_dir: Path) -> tuple[Path | None, dict[str, str]]:
    """`Values` of local.settings.json, else of local.settings.example.json (which file, values)."""
    for name in ("local.settings.json", "local.settings.example.json"):
        path = app_dir / name
        if path.exists():
            values = json.loads(path.read_text()).get("Values", {})
            return path, {key: str(value) for key, value in values.items()}
    return None, {}


def apply_local_settings(values: dict[str, str]) -> list[str]:
    """Put values into os.environ; a variable already set in the environment wins (like Core
    Tools, so `DATABASE_URL=... make dev` overrides the file). Returns the names applied."""
    applied = []
    for key, value in values.items():
        if key not in os.environ:
            os.environ[key] = value
            applied.append(key)
    return applied


_SETTING = re.compile(r"%([^%]+)%")


def resolve_app_settings(function: str, what: str, text: str) -> str:
    """Each `%Name%` in a binding's text (a blob path, a timer schedule) replaced by that app
    setting, as the host resolves them; ValueError naming the setting when it is not set."""

    def setting(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if not value:
            raise ValueError(f"function {function!r}: {what} setting {match.group()!r} is not set")
        return value

    return _SETTING.sub(setting, text)
