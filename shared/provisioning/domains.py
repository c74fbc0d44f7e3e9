"""A restaurant's domains: claimed when it is provisioned, changed by a platform admin later.

A restaurant that opened on `pizza.<platform>` buys `pizzaroma.it`; one moves its primary
domain; one drops an address it no longer pays for. Postgres's `tenant_domains` is the truth
(the domain is its primary key, so two restaurants never hold one); the directory follows after
the commit, as for any change of the restaurant (design §3).
"""

from __future__ import annotations

import logging

import psycopg
from azure.core.exceptions import AzureError

from shared import errors
from shared.db import transaction
from shared.directory import directory_drop
from shared.errors import FieldError
from shared.provisioning.audit import audit
from shared.provisioning.requests import domain_problems
from shared.tenancy import resolver
from shared.tenant_profile import SavedProfile, spread_tenant_profile
from shared.tenants import TENANT_COLUMNS, TenantRecord, domains_of, locked_tenant

logger = logging.getLogger("stelly.platform")

# A restaurant being set up or taken down has its own operation writing its domains.
_CHANGEABLE = ("active", "suspended")


class DomainTaken(Exception):
    """Another restaurant that is not deleted holds the domain."""

    def __init__(self, domain: str, owner: str) -> None:
        super().__init__(f"the domain {domain} belongs to {owner}")
        self.domain, self.owner = domain, owner


def claim_domains(conn: psycopg.Connection, tenant_id: str, domains: list[str]) -> None:
    """Make domains the tenant's, the first its primary, in the caller's transaction: its other
    domains go, and so does a deleted restaurant's tombstone on one of them (which answers 410
    until someone claims the domain). DomainTaken when a restaurant not deleted holds one."""
    owners = conn.execute(
        """select d.domain, d.tenant_id, t.slug, t.status
             from public.tenant_domains d join public.tenants t on t.id = d.tenant_id
            where d.domain = any(%s) for update of d""",
        [domains],
    ).fetchall()
    for owner in owners:
        if str(owner["tenant_id"]) != tenant_id and owner["status"] != "deleted":
            raise DomainTaken(owner["domain"], owner["slug"])
    # Only our own rows and tombstones' go: a restaurant that claimed one of these domains
    # since the check above (its row was not there to lock yet) keeps it, and our insert then
    # fails on the unique domain (psycopg.errors.UniqueViolation), which callers report.
    conn.execute(
        """delete from public.tenant_domains d using public.tenants t
            where t.id = d.tenant_id
              and (d.tenant_id = %s or (d.domain = any(%s) and t.status = 'deleted'))""",
        [tenant_id, domains],
    )
    for index, domain in enumerate(domains):
        conn.execute(
            """insert into public.tenant_domains (domain, tenant_id, is_primary)
               values (%s, %s, %s)""",
            [domain, tenant_id, index == 0],
        )


def change_domains(slug: str, domains: list[str], *, by: str) -> TenantRecord:
    """Give the restaurant exactly domains, the first its primary; the record as it is now.

    422 for a domain it may not have under the platform's, 404 for an unknown slug, 409 for a
    restaurant not active or suspended, or a domain another restaurant holds. The same list
    again changes nothing and audits nothing.
    """
    problems = domain_problems(domains, slug)
    if problems:
        raise errors.validation_failed([FieldError(f"domains[{i}]", m) for i, m in problems])
    try:
        with transaction() as conn:
            saved, before = _change(conn, slug, domains)
    except DomainTaken as taken:
        raise errors.conflict(f"The domain {taken.domain} belongs to {taken.owner}") from None
    except psycopg.errors.UniqueViolation:
        raise errors.conflict("Another restaurant claimed one of these domains meanwhile") from None
    if _same(before, domains):
        return saved.record
    spread_tenant_profile(saved)
    _forget_dropped([d for d in before if d not in domains], saved.record.revision)
    _audit(slug, domains, by)
    return saved.record


def _change(
    conn: psycopg.Connection, slug: str, domains: list[str]
) -> tuple[SavedProfile, list[str]]:
    """The restaurant with domains now, and the domains it had (locked, so two changes queue)."""
    current = locked_tenant(
        conn,
        slug,
        changeable=_CHANGEABLE,
        change="only an active or suspended restaurant's domains can be changed",
    )
    before = domains_of(conn, current["id"])
    if _same(before, domains):
        return SavedProfile(TenantRecord.from_row(current), before), before
    claim_domains(conn, str(current["id"]), domains)
    # A new revision, above any tombstone's on a domain taken over, so its directory entry is
    # replaced rather than kept as the newer one.
    row = conn.execute(
        f"""update public.tenants t set updated_at = now() where t.id = %s
         returning {TENANT_COLUMNS}""",
        [current["id"]],
    ).fetchone()
    return SavedProfile(TenantRecord.from_row(row), domains), before


def _same(before: list[str], domains: list[str]) -> bool:
    """The same primary and the same others (domains_of lists the others alphabetically)."""
    return before[:1] == domains[:1] and set(before) == set(domains)


def _forget_dropped(dropped: list[str], revision: int) -> None:
    """Mark the domains given up in the directory and drop them from this process's cache: they
    now answer 404 (other processes within their cache's 5 seconds)."""
    for domain in dropped:
        try:
            directory_drop(domain, revision)
        except AzureError as error:
            # Postgres no longer has it, which is what counts: the entry ages out (5 minutes).
            logger.warning(
                "directory entry of dropped %s not marked (%s)", domain, type(error).__name__
            )
        resolver.invalidate(domain)


def _audit(slug: str, domains: list[str], by: str) -> None:
    try:
        audit(slug, operation="domains", step="change", outcome="ok", detail=f"{by}: {domains}")
    except AzureError as error:
        logger.warning("domain change of %s not audited: %s", slug, type(error).__name__)
