"""Anonymous storefront reads, tenant from the host: store config and the published menu.

Both are cached bytes with a strong ETag (304 on If-None-Match) and a Cache-Control that lets
Front Door cache per host for a minute and serve stale for five while it revalidates.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from functions.http import Call, cached_json_response, endpoint
from shared.menus.storefront import STORE_CACHE_CONTROL, storefront_menus
from shared.store_answer_shapes import StoreConfigOut, StoreMenuOut
from shared.store_config import store_config_bytes

bp = func.Blueprint()


@bp.route(route="v1/store/config", methods=["GET"])
@endpoint(
    etag=True,
    tenant=True,
    headers=("If-None-Match",),
    responses={200: StoreConfigOut},
    summary="Branding, money, locale, hours and open-now of this storefront",
)
def store_config(call: Call) -> func.HttpResponse:
    tenant = call.require_tenant()
    menu_currency = storefront_menus.currency(tenant.schema_name)
    payload, etag = store_config_bytes(tenant, datetime.now(UTC), menu_currency=menu_currency)
    return cached_json_response(call.req, payload, etag=etag, cache_control=STORE_CACHE_CONTROL)


@bp.route(route="v1/store/menu", methods=["GET"])
@endpoint(
    etag=True,
    tenant=True,
    headers=("If-None-Match",),
    responses={200: StoreMenuOut},
    summary="The published menu with availability for now",
)
def store_menu(call: Call) -> func.HttpResponse:
    tenant = call.require_tenant()
    timezone = tenant.settings.get("timezone") or "UTC"
    payload, etag = storefront_menus.rendered(tenant.schema_name, timezone, datetime.now(UTC))
    return cached_json_response(call.req, payload, etag=etag, cache_control=STORE_CACHE_CONTROL)
