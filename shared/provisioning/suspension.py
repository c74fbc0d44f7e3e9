"""Suspending a restaurant (and reinstating it): the platform stops its hosts answering, keeps
everything else.

A suspended restaurant's hosts answer 403 "is suspended" (shared/tenancy.py: the storefront,
orders, the kitchen and the manager's API alike), while its data, its outbox, its photos and its
schema migrations carry on, and it can still be deleted. The change is written as a profile
change is (Postgres, then the directory entry of every domain, then this process's cache), so
other instances follow within their cache's 5 seconds, and each change joins the restaurant's
audit trail with who made it and why.
"""

from __future__ import annotations

import logging

from azure.core.exceptions import AzureError

from shared.db import transaction
from shared.provisioning.audit import audit
from shared.tenant_profile import SavedProfile, spread_tenant_profile
from shared.tenants import TENANT_COLUMNS, TenantRecord, domains_of, locked_tenant

logger = logging.getLogger("stelly.platform")

# The statuses a suspension moves between: a restaurant being set up, deleted or that failed to
# provision has its own operations, which a suspension must not cut across.
_SUSPENDABLE = ("active", "suspended")


def set_suspension(slug: str, *, reason: str | None, by: str) -> TenantRecord:
    """Suspend the restaurant with reason, or reinstate it with None; the record as it is now.

    404 for an unknown slug; 409 for a restaurant that is not active or suspended. Asking again
    for the state it is in changes nothing and audits nothing (a new reason replaces the old).
    """
    status = "suspended" if reason is not None else "active"
    with transaction() as conn:
        current = locked_tenant(
            conn,
            slug,
            changeable=_SUSPENDABLE,
            change="only an active restaurant can be suspended, and a suspended one reinstated",
        )
        if (current["status"], current["status_reason"]) == (status, reason):
            return TenantRecord.from_row(current)
        row = conn.execute(
            f"""update public.tenants t set status = %s, status_reason = %s, updated_at = now()
                 where t.id = %s
             returning {TENANT_COLUMNS}""",
            [status, reason, current["id"]],
        ).fetchone()
        saved = SavedProfile(TenantRecord.from_row(row), domains_of(conn, current["id"]))
    spread_tenant_profile(saved)
    _audit(slug, reason, by)
    return saved.record


def _audit(slug: str, reason: str | None, by: str) -> None:
    step, detail = ("suspend", f"{by}: {reason}") if reason is not None else ("reinstate", by)
    try:
        audit(slug, operation="suspension", step=step, outcome="ok", detail=detail)
    except AzureError as error:
        # Made in Postgres, which keeps the reason too: a 503 would have the admin retry a
        # change that is already made. The trail misses this row; the log has it.
        logger.warning("suspension of %s (%s) not audited: %s", slug, detail, type(error).__name__)
