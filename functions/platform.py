"""The platform API (role platform_admin, platform host only): restaurants and operations.

Creating, deleting and migrating start durable orchestrations (functions/provisioning_flows.py,
functions/migration_flows.py) and answer 202 with the operation's status URL. Instance ids are
deterministic for one restaurant (`provision-<slug>`, `deprovision-<slug>`), so asking twice
finds the same operation instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions import OrchestrationRuntimeStatus
from pydantic import BaseModel, ConfigDict, Field

from functions.durable_http import durable_endpoint
from functions.http import Call, endpoint, json_response, split_url
from shared import errors
from shared.errors import FieldError
from shared.provisioning.registry import (
    TenantDetail,
    TenantPage,
    list_tenants,
    migratable_slugs,
    provisioning_state,
    purged_operation,
    taken_domains,
    tenant_detail,
)
from shared.provisioning.requests import (
    ProvisionJob,
    ProvisionRequest,
    Slug,
    provision_job,
)
from shared.telemetry import current_traceparent
from shared.tenancy import header, normalise_host, request_host
from shared.tenants import TenantStatus
from shared.text_shapes import shaped

bp = df.Blueprint()
logger = logging.getLogger("stelly.platform")

PLATFORM = ("platform_admin",)
OPERATIONS_PATH = "/api/v1/platform/operations"
OPERATION_ID = re.compile(r"^(provision|deprovision|migration)-[a-z0-9-]{1,120}$")
# ContinuedAsNew is a running instance between two executions: starting its id again would fail.
RUNNING = (
    OrchestrationRuntimeStatus.Running,
    OrchestrationRuntimeStatus.Pending,
    OrchestrationRuntimeStatus.ContinuedAsNew,
)


class OperationAccepted(BaseModel):
    id: str
    status_url: str


class TenantQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TenantStatus | None = None
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(
        None, pattern=shaped(r"^[a-z][a-z0-9-]{0,30}$", "must be the next_cursor of a page")
    )


class MigrationRequest(BaseModel):
    """`POST /api/v1/platform/migrations`: canaries first, then batches with bounded fan-out."""

    model_config = ConfigDict(extra="forbid")

    canaries: list[Slug] = Field(default=[], max_length=20)
    batch_size: int = Field(100, ge=1, le=500, strict=True)
    max_parallel: int = Field(8, ge=1, le=32, strict=True)


class OperationStatus(BaseModel):
    id: str
    name: str | None
    status: str
    custom_status: Any
    output: Any
    error: str | None
    created_at: datetime | None
    updated_at: datetime | None


def _origin(call: Call) -> str:
    """Scheme and host for the URLs we hand back: the host the admin called.

    Behind Front Door the request's own URL names the function app's origin host, which only
    Front Door may reach (and which is no platform host), so a trusted X-Forwarded-Host wins.
    """
    parts = split_url(call.req.url)
    called = request_host(call.req.headers)
    if called == normalise_host(parts.netloc):
        return f"{parts.scheme}://{parts.netloc}"
    # The forwarded host as sent, port and all (a local proxy's), when it is the one trusted.
    forwarded = header(call.req.headers, "x-forwarded-host").split(",")[0].strip()
    netloc = forwarded if normalise_host(forwarded) == called else called
    scheme = header(call.req.headers, "x-forwarded-proto").split(",")[0].strip() or "https"
    return f"{scheme}://{netloc}"


def _accepted(call: Call, instance_id: str, status: int = 202) -> func.HttpResponse:
    status_url = f"{_origin(call)}{OPERATIONS_PATH}/{instance_id}"
    body = OperationAccepted(id=instance_id, status_url=status_url)
    return json_response(body, status=status, headers={"Location": status_url})


def _input_of(status: df.DurableOrchestrationStatus) -> dict[str, Any]:
    value = status.input_
    return json.loads(value) if isinstance(value, str) else (value or {})


async def _start(
    client: df.DurableOrchestrationClient, name: str, instance_id: str, payload: dict[str, Any]
) -> df.DurableOrchestrationStatus:
    """Start instance_id unless it is running; its status afterwards, whoever started it."""
    status = await client.get_status(instance_id, show_input=True)
    if status.runtime_status in RUNNING:
        return status
    try:
        await client.start_new(name, instance_id, payload)
    except Exception as error:
        # Azure refuses to start an id a concurrent request has just started: that one counts.
        status = await client.get_status(instance_id, show_input=True)
        if status.runtime_status not in RUNNING:
            # The SDK's message is the durable extension's answer (stack trace and all): ours
            # to log, not the caller's to read.
            logger.warning("could not start %s %s: %s", name, instance_id, error)
            raise errors.service_unavailable(
                "The operation could not be started; try again", retry_after=5
            ) from error
        return status
    return await client.get_status(instance_id, show_input=True)


def _check_provision(job: ProvisionJob) -> str | None:
    """The slug's current status, after refusing what conflicts (409) with this request."""
    state = provisioning_state(job.slug)
    if state is not None:
        if state["status"] in ("deleting", "deleted"):
            raise errors.conflict(
                f"The slug {job.slug} belonged to a deleted restaurant; slugs are never reused "
                "(old tokens name them). Choose another slug."
            )
        if state["status"] != "failed" and state["fingerprint"] != job.fingerprint:
            raise errors.conflict(
                f"The slug {job.slug} is taken by a different request ({state['status']})"
            )
        if state["status"] in ("active", "suspended"):
            # Done: nothing starts, so the domains it asked for then are not claimed again (a
            # platform admin may have changed them since, and another restaurant taken one).
            return state["status"]
    taken = taken_domains(job.domains, job.slug)
    if taken:
        owners = ", ".join(f"{domain} ({slug})" for domain, slug in sorted(taken.items()))
        raise errors.conflict(f"These domains belong to other restaurants: {owners}")
    return state["status"] if state else None


@bp.route(route="v1/platform/tenants", methods=["POST"])
@bp.durable_client_input(client_name="client")
@durable_endpoint(
    roles=PLATFORM,
    body=ProvisionRequest,
    responses={200: OperationAccepted, 202: OperationAccepted, 409: None},
    response_headers={200: ("Location",)},
    summary="Create a restaurant (starts provision-<slug>)",
)
async def platform_tenant_create(
    call: Call, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 and the operation; the same request again 200/202 with it; another request 409."""
    # The orchestration's activities continue this request's trace.
    job = replace(provision_job(call.body), traceparent=current_traceparent())
    instance_id = f"provision-{job.slug}"
    state = await asyncio.to_thread(_check_provision, job)
    if state in ("active", "suspended"):
        return _accepted(call, instance_id, 200)
    existing = await _start(client, "provision_tenant", instance_id, job.as_input())
    # Two different requests racing for one slug: the instance's input says who won.
    if _input_of(existing).get("fingerprint") != job.fingerprint:
        raise errors.conflict(f"The slug {job.slug} is being provisioned by a different request")
    return _accepted(call, instance_id)


@bp.route(route="v1/platform/tenants", methods=["GET"])
@endpoint(
    platform=True,
    roles=PLATFORM,
    query=TenantQuery,
    responses={200: TenantPage},
    summary="List restaurants",
)
def platform_tenant_list(call: Call) -> func.HttpResponse:
    """Restaurants in slug order; `?status=` filters, `?cursor=` is the previous next_cursor."""
    query: TenantQuery = call.parsed_query
    return json_response(list_tenants(status=query.status, after=query.cursor, limit=query.limit))


@bp.route(route="v1/platform/tenants/{slug}", methods=["GET"])
@endpoint(platform=True, roles=PLATFORM, responses={200: TenantDetail}, summary="A restaurant")
def platform_tenant_get(call: Call) -> func.HttpResponse:
    """Status, domains, migration version, last operation and recent audit rows."""
    return detail_response(call, call.route["slug"])


async def refuse_while_provisioning(
    client: df.DurableOrchestrationClient, slug: str, instead: str
) -> None:
    """409 while provision-<slug> runs: its row can read `active` while it is still failing and
    compensating, which undoes only what it made."""
    provisioning = await client.get_status(f"provision-{slug}")
    if provisioning.runtime_status in RUNNING:
        raise errors.conflict(f"{slug} is still being provisioned; {instead}")


def detail_response(call: Call, slug: str) -> func.HttpResponse:
    detail = tenant_detail(slug, _origin(call) + OPERATIONS_PATH)
    if detail is None:
        raise errors.not_found(f"No restaurant has the slug {slug}")
    return json_response(detail)


@bp.route(route="v1/platform/tenants/{slug}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
@durable_endpoint(
    roles=PLATFORM,
    responses={200: OperationAccepted, 202: OperationAccepted, 404: None, 409: None},
    response_headers={200: ("Location",)},
    summary="Delete a restaurant (starts deprovision-<slug>)",
)
async def platform_tenant_delete(
    call: Call, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 and the operation; 200 when already deleted; 409 while its provisioning runs.

    Decided by the provisioning operation, not the row: a row can read `active` while the
    operation is still failing and compensating, and `provisioning` after an operation that
    ended without finishing (its compensation failed too), which only a deletion clears.
    """
    slug = call.route["slug"]
    state = await asyncio.to_thread(provisioning_state, slug)
    if state is None:
        raise errors.not_found(f"No restaurant has the slug {slug}")
    await refuse_while_provisioning(client, slug, "delete it once that ends")
    # Its input and history hold the owner's e-mail, which a deletion removes (the tombstone
    # keeps none); it has ended, so it goes now (again on a repeated DELETE, which is harmless).
    await client.purge_instance_history(f"provision-{slug}")
    instance_id = f"deprovision-{slug}"
    if state["status"] == "deleted":
        return _accepted(call, instance_id, 200)
    await _start(client, "deprovision_tenant", instance_id, {"slug": slug})
    return _accepted(call, instance_id)


def _check_canaries(canaries: list[str]) -> None:
    known = migratable_slugs(canaries)
    unknown = [
        FieldError(f"canaries[{index}]", f"{slug} is not an active or suspended restaurant")
        for index, slug in enumerate(canaries)
        if slug not in known
    ]
    if unknown:
        raise errors.validation_failed(unknown)


@bp.route(route="v1/platform/migrations", methods=["POST"])
@bp.durable_client_input(client_name="client")
@durable_endpoint(
    roles=PLATFORM,
    body=MigrationRequest,
    responses={202: OperationAccepted},
    summary="Migrate every restaurant's schema (canaries first)",
)
async def platform_migration_start(
    call: Call, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """202 and the operation; schemas already current are skipped quickly."""
    request: MigrationRequest = call.body
    await asyncio.to_thread(_check_canaries, request.canaries)
    stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%Sz")
    instance_id = f"migration-{stamp}-{uuid.uuid4().hex[:6]}"
    await client.start_new("fleet_migration", instance_id, request.model_dump())
    return _accepted(call, instance_id)


def _operation(instance_id: str, status: df.DurableOrchestrationStatus) -> OperationStatus:
    failed = status.runtime_status == OrchestrationRuntimeStatus.Failed
    continued = status.runtime_status == OrchestrationRuntimeStatus.ContinuedAsNew
    return OperationStatus(
        id=instance_id,
        name=status.name,
        # ContinuedAsNew is a running instance between two executions.
        status="running" if continued else status.runtime_status.value.lower(),
        custom_status=status.custom_status,
        output=None if failed else status.output,
        error=str(status.output) if failed else None,
        created_at=status.created_time,
        updated_at=status.last_updated_time,
    )


@bp.route(route="v1/platform/operations/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@durable_endpoint(
    roles=PLATFORM, responses={200: OperationStatus, 404: None}, summary="An operation's status"
)
async def platform_operation_get(
    call: Call, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Status (running|completed|failed|...), custom status (step, progress), output, error."""
    instance_id = call.route["id"]
    if not OPERATION_ID.fullmatch(instance_id):
        # Not quoted back: it may be long, or hold a line break or a direction override.
        raise errors.not_found("No platform operation has that id")
    unknown = errors.not_found(f"No platform operation has the id {instance_id}")
    status = await client.get_status(instance_id)
    if status is None or status.runtime_status is None:
        # A repeated create or delete hands out this URL after the 30-day purge too.
        purged = await asyncio.to_thread(purged_operation, instance_id)
        if purged is None:
            raise unknown
        return json_response(OperationStatus.model_validate(purged))
    return json_response(_operation(instance_id, status))
