"""Domain errors that carry their HTTP status and RFC 9457 problem details."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PROBLEM_TYPE_BASE = "https://stelly.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    """One invalid input: a JSON path such as `lines[2].quantity` and what to send instead."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class ProblemError(Exception):
    """An error a client can act on; functions/http.py turns it into problem+json."""

    status: int
    title: str
    detail: str = ""
    slug: str = "error"
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.title}: {self.detail}")

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug

    def body(self, *, instance: str, correlation_id: str) -> dict[str, Any]:
        """The problem document; `errors` only when there are field errors."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
            "instance": instance,
            "correlation_id": correlation_id,
        }
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body


def bad_request(detail: str) -> ProblemError:
    return ProblemError(400, "Bad request", detail, "bad-request")


def validation_failed(errors: list[FieldError], detail: str = "") -> ProblemError:
    detail = detail or "; ".join(f"{e.path}: {e.message}" for e in errors[:5])
    return ProblemError(422, "Validation failed", detail, "validation", errors=errors)


def invalid_field(path: str, message: str) -> ProblemError:
    return validation_failed([FieldError(path, message)])


# RFC 6750 §3: error_description is printable ASCII without '"' and '\'.
_CHALLENGE_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_MAX_DESCRIPTION = 200


def unauthorized(detail: str) -> ProblemError:
    # RFC 6750: tell the client which scheme and why, so it knows to fetch a new token. The
    # detail may quote an unverified token's header, so only safe characters reach the header
    # (a line break there was a 500; a quote let the sender add parameters).
    description = _CHALLENGE_UNSAFE.sub("?", detail)[:_MAX_DESCRIPTION]
    challenge = f'Bearer error="invalid_token", error_description="{description}"'
    return ProblemError(
        401, "Unauthorized", detail, "unauthorized", headers={"WWW-Authenticate": challenge}
    )


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "Forbidden", detail, "forbidden")


def not_found(detail: str = "No such resource") -> ProblemError:
    return ProblemError(404, "Not found", detail, "not-found")


def method_not_allowed(allowed: list[str]) -> ProblemError:
    return ProblemError(
        405,
        "Method not allowed",
        f"Allowed methods: {', '.join(allowed)}",
        "method-not-allowed",
        headers={"Allow": ", ".join(allowed)},
    )


def conflict(detail: str, **extra: Any) -> ProblemError:
    return ProblemError(409, "Conflict", detail, "conflict", extra=extra)


def gone(detail: str) -> ProblemError:
    return ProblemError(410, "Gone", detail, "gone")


def precondition_failed(detail: str, **extra: Any) -> ProblemError:
    return ProblemError(412, "Precondition failed", detail, "precondition-failed", extra=extra)


def payload_too_large(limit: int) -> ProblemError:
    return ProblemError(
        413, "Payload too large", f"Request bodies are limited to {limit} bytes", "too-large"
    )


def unsupported_media_type(got: str) -> ProblemError:
    return ProblemError(
        415,
        "Unsupported media type",
        f"Send Content-Type: application/json (got {got or 'none'})",
        "unsupported-media-type",
    )


def too_many_requests(retry_after: int) -> ProblemError:
    return ProblemError(
        429,
        "Too many requests",
        f"Slow down; retry after {retry_after} s",
        "rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


def service_unavailable(detail: str, retry_after: int | None = None) -> ProblemError:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return ProblemError(503, "Service unavailable", detail, "unavailable", headers=headers)
