"""Changes a platform admin makes to a live restaurant: suspending and reinstating it, and
replacing its domains. Each answers the restaurant as `GET /platform/tenants/{slug}` does."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ConfigDict

from functions.durable_http import durable_endpoint
from functions.http import Call, endpoint
from functions.platform import PLATFORM, detail_response, refuse_while_provisioning
from shared.provisioning.domains import change_domains
from shared.provisioning.registry import TenantDetail
from shared.provisioning.requests import DomainsIn
from shared.provisioning.suspension import set_suspension
from shared.text_rules import one_line

bp = df.Blueprint()


SuspensionReason = one_line(200)  # "Unpaid invoice 2026-11"


class SuspensionIn(BaseModel):
    """Why the restaurant is suspended: kept with it and in its audit trail."""

    model_config = ConfigDict(extra="forbid")

    reason: SuspensionReason


SUSPENSION = "v1/platform/tenants/{slug}/suspension"


@bp.route(route=SUSPENSION, methods=["PUT"])
@endpoint(
    platform=True,
    roles=PLATFORM,
    body=SuspensionIn,
    responses={200: TenantDetail, 404: None, 409: None},
    summary="Suspend a restaurant: its hosts answer 403 until it is reinstated",
)
def platform_tenant_suspend(call: Call) -> func.HttpResponse:
    """The restaurant as GET shows it, now `suspended` with `status_reason`."""
    slug = call.route["slug"]
    set_suspension(slug, reason=call.body.reason, by=call.require_principal().subject)
    return detail_response(call, slug)


@bp.route(route=SUSPENSION, methods=["DELETE"])
@endpoint(
    platform=True,
    roles=PLATFORM,
    responses={200: TenantDetail, 404: None, 409: None},
    summary="Reinstate a suspended restaurant",
)
def platform_tenant_reinstate(call: Call) -> func.HttpResponse:
    """The restaurant as GET shows it, `active` again."""
    slug = call.route["slug"]
    set_suspension(slug, reason=None, by=call.require_principal().subject)
    return detail_response(call, slug)


@bp.route(route="v1/platform/tenants/{slug}/domains", methods=["PUT"])
@bp.durable_client_input(client_name="client")
@durable_endpoint(
    roles=PLATFORM,
    body=DomainsIn,
    responses={200: TenantDetail, 404: None, 409: None},
    summary="Replace a restaurant's domains, its primary first",
)
async def platform_tenant_domains(
    call: Call, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The restaurant as GET shows it, answering on exactly these domains."""
    slug = call.route["slug"]
    await refuse_while_provisioning(client, slug, "change its domains once that ends")
    by = call.require_principal().subject
    await asyncio.to_thread(change_domains, slug, call.body.domains, by=by)
    return await asyncio.to_thread(detail_response, call, slug)
