"""What a platform admin sends to create a restaurant, validated and normalised once.

The normalised request is the orchestration's input, and its fingerprint is how "the same request
again" is told apart from "a different request for a taken slug".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

import idna
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from shared.config import get_settings
from shared.field_rules import rule_failures
from shared.restaurant_settings import BusinessName, Currency
from shared.text_rules import check_single_line
from shared.text_shapes import EMAIL, shaped
from shared.theming import ThemeTokens
from shared.weekly_windows import TimeZoneName

# 3-31 characters; it ends in a letter or digit because it becomes a DNS label.
SLUG_PATTERN = shaped(
    r"^[a-z][a-z0-9-]{1,29}[a-z0-9]$",
    "must be 3 to 31 lower-case letters, digits or '-', starting with a letter and not ending"
    " with '-'",
)
# Names that read as part of the platform (api.stelly.com, admin.stelly.com, ...) or that a
# customer could mistake for us; a restaurant never gets them as its slug or subdomain.
RESERVED_SLUGS = frozenset(
    {
        "about", "account", "accounts", "admin", "administrator", "api", "app", "apps", "assets",
        "auth", "billing", "blog", "cdn", "dashboard", "dev", "docs", "help", "internal",
        "kitchen", "login", "logout", "mail", "manage", "media", "platform", "root", "security",
        "signup", "sso", "staging", "static", "status", "stelly", "store", "support", "system",
        "test", "www",
    }
)  # fmt: skip
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# At least two labels and a top-level label starting with a letter, so an IP address never passes.
DOMAIN_PATTERN = shaped(
    rf"^(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?$",
    "must be a host name such as pizza.example.com",
)
MAX_DOMAINS = 10

ProvisionStep = Literal[
    "reserve", "create_schema", "migrate", "seed", "register_domains", "activate"
]
PROVISION_STEPS: tuple[ProvisionStep, ...] = get_args(ProvisionStep)


def schema_for(slug: str) -> str:
    """`pizza-roma` → `tenant_pizza_roma` (slugs have no `_`, so the mapping is one-to-one)."""
    return "tenant_" + slug.replace("-", "_")


def _not_reserved(slug: str) -> str:
    if slug in RESERVED_SLUGS:
        raise PydanticCustomError("reserved", "{slug} is reserved for the platform", {"slug": slug})
    return slug


def _lower_domain(value: Any) -> Any:
    """The domain as browsers send it in Host: lower case, no trailing dot, and an
    internationalised name (`café.example`) in its ASCII form (`xn--caf-dma.example`, UTS #46)."""
    if not isinstance(value, str):
        return value
    value = value.strip().lower()
    try:
        if value.isascii():
            # An A-label given as such is checked as its Unicode form is: `xn--a` (U+0080) is
            # a host no browser sends, so a restaurant there would be live and unreachable.
            for label in value.split("."):
                if label.startswith("xn--"):
                    idna.decode(label)
            return value.rstrip(".")
        # After the conversion, which maps an ideographic full stop (`。`) to a dot too.
        return idna.encode(value, uts46=True).decode("ascii").rstrip(".")
    except idna.IDNAError as error:
        raise PydanticCustomError(
            "domain", "{domain} is not a valid domain name ({reason})",
            {"domain": value, "reason": str(error)},
        ) from None  # fmt: skip


Slug = Annotated[str, Field(pattern=SLUG_PATTERN), AfterValidator(_not_reserved)]
# The constraints before the BeforeValidator, which then wraps a constrained string: after it,
# pydantic words a length as a list's ("at most 253 items").
Domain = Annotated[
    str, Field(min_length=4, max_length=253, pattern=DOMAIN_PATTERN), BeforeValidator(_lower_domain)
]


def _unrepeated(domains: list[str]) -> list[str]:
    if len(set(domains)) != len(domains):
        raise PydanticCustomError("duplicate", "domains must not repeat")
    return domains


# Every domain of a restaurant, its primary first (as browsers send them: "Pizza.Example." is
# "pizza.example", so the two repeat).
Domains = Annotated[
    list[Domain], Field(min_length=1, max_length=MAX_DOMAINS), AfterValidator(_unrepeated)
]
# One line as the restaurant's contact e-mail is: the platform's views show it.
Email = Annotated[str, Field(max_length=254, pattern=EMAIL), AfterValidator(check_single_line)]


class DomainsIn(BaseModel):
    """`PUT /api/v1/platform/tenants/{slug}/domains`: every domain the restaurant answers on,
    its primary first."""

    model_config = ConfigDict(extra="forbid")

    domains: Domains


class ProvisionRequest(BaseModel):
    """`POST /api/v1/platform/tenants` (design §5)."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug
    # The seed step saves it as the business name: the same rules, checked before the 202.
    display_name: BusinessName
    owner_email: Email
    currency: Currency
    timezone: TimeZoneName
    domains: Domains | None = None
    theme: ThemeTokens | None = None
    # Test-only failure injection (shared/provisioning/failures.py), refused outside development
    # and left out of the published API description.
    fail_at_step: SkipJsonSchema[ProvisionStep | None] = None

    @model_validator(mode="after")
    def _complete(self) -> ProvisionRequest:
        settings = get_settings()
        if self.fail_at_step is not None and not settings.is_development:
            raise PydanticCustomError(
                "development_only", "fail_at_step exists for tests and only in development"
            )
        if self.domains is None:
            self.domains = [f"{self.slug}.{settings.platform_domain}"]
        failures = domain_problems(self.domains, self.slug)
        if failures:
            failed = [(("domains", index), problem) for index, problem in failures]
            raise rule_failures("ProvisionRequest", failed, self.domains)
        return self


def domain_problems(domains: list[str], slug: str) -> list[tuple[int, str]]:
    """(index, what is wrong) for each of domains the restaurant slug may not have."""
    platform = get_settings().platform_domain
    return [
        (index, problem)
        for index, domain in enumerate(domains)
        if (problem := _platform_subdomain_problem(domain, platform, slug))
    ]


def _platform_subdomain_problem(domain: str, platform: str, slug: str) -> str | None:
    """What is wrong with domain for the restaurant slug, if anything: under the platform's
    domain, only its own `<slug>.<platform>`."""
    if domain == platform:
        return f"{domain} is the platform's own host"
    label = domain.removesuffix(f".{platform}")
    if label == domain:
        return None  # the restaurant's own domain
    if "." in label:
        return f"{domain}: under {platform} a restaurant gets one name (<slug>.{platform})"
    if label in RESERVED_SLUGS:
        return f"{domain} is reserved for the platform's own use"
    if label.startswith("xn--"):
        # "admin" spelled with a Cyrillic a (U+0430) is another name in DNS but reads as ours;
        # slugs are ASCII, and an internationalised name belongs on the restaurant's own domain.
        return (
            f"{domain}: under {platform} a name is ASCII letters, digits and hyphens; an "
            f"internationalised name goes on the restaurant's own domain"
        )
    if label != slug:
        # Every slug's name there is its restaurant's, created or still to come (slugs are never
        # reused): `roma.<platform>` serving Napoli would greet Roma's customers with another
        # restaurant, and leave Roma unable ever to have its default domain.
        return (
            f"{domain}: under {platform} a restaurant's name is its slug ({slug}.{platform}); "
            f"another name goes on its own domain"
        )
    return None


@dataclass(frozen=True)
class ProvisionJob:
    """A validated request, its fingerprint and the orchestration attempt acting on it."""

    request: ProvisionRequest
    fingerprint: str
    attempt: str = ""
    # Set by the orchestrator (replay-safe clock) and the starter (the request's trace).
    started_at: str | None = None
    traceparent: str | None = None

    @property
    def slug(self) -> str:
        return self.request.slug

    @property
    def schema(self) -> str:
        return schema_for(self.request.slug)

    @property
    def domains(self) -> list[str]:
        return list(self.request.domains or [])

    def elapsed_ms(self) -> float | None:
        """Milliseconds since the orchestration started (None when it did not say)."""
        if not self.started_at:
            return None
        elapsed = datetime.now(UTC) - datetime.fromisoformat(self.started_at)
        return elapsed.total_seconds() * 1000

    def as_input(self) -> dict[str, Any]:
        """The orchestration input (JSON); `attempt` and `started_at` come from the orchestrator."""
        return {
            "request": self.request.model_dump(mode="json"),
            "fingerprint": self.fingerprint,
            "traceparent": self.traceparent,
        }

    @classmethod
    def from_input(cls, data: dict[str, Any]) -> ProvisionJob:
        request = ProvisionRequest.model_validate(data["request"])
        return cls(
            request,
            data["fingerprint"],
            data.get("attempt", ""),
            data.get("started_at"),
            data.get("traceparent"),
        )


def fingerprint_of(request: ProvisionRequest) -> str:
    """SHA-256 of the normalised request: equal for the same request sent again."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def provision_job(request: ProvisionRequest) -> ProvisionJob:
    """The job for a request, before an orchestration attempt takes it on."""
    return ProvisionJob(request, fingerprint_of(request))
