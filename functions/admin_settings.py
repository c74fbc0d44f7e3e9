"""Admin settings and theme of the restaurant (owner, manager), with ETag/If-Match.

Both live in the tenant record, so both share its version: the ETag is `"<tenants.version>"`.
Reads come from Postgres (not the request cache) so the ETag an editor gets is current.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from functions.http import Call, endpoint, json_response
from functions.row_http import EDITORS, fresh_tenant, writer_expects
from shared.restaurant_settings import RestaurantSettings, effective_settings
from shared.tax_rates import require_storable
from shared.tenant_profile import update_tenant_profile
from shared.tenants import TenantRecord
from shared.theme_preset_shapes import ThemePresetsOut
from shared.theming import DEFAULT_PRESET, PRESETS, ThemeTokens, preset_look, storefront_theme
from shared.versioning import ExpectedVersion, version_etag

bp = func.Blueprint()


class SettingsUpdate(RestaurantSettings):
    expected_version: ExpectedVersion | None = None


class ThemeUpdate(ThemeTokens):
    expected_version: ExpectedVersion | None = None


def _tagged(document: dict[str, Any], record: TenantRecord) -> func.HttpResponse:
    return json_response(document, headers={"ETag": version_etag(record.version)})


def _replace(call: Call, part: str) -> TenantRecord:
    """Write the validated body as the tenant's settings or theme, guarded by its version.

    A theme without `assets` keeps the logo and hero: uploads set those (README "Images"), and
    a manager applying a preset or saving colours expects the logo to stay. Sent, they replace.
    """
    document = call.body.model_dump(mode="json", exclude={"expected_version"})
    return update_tenant_profile(
        tenant_id=call.require_tenant().id,
        expected=writer_expects(call, call.body.expected_version),
        keep_theme_assets=part == "theme" and "assets" not in call.body.model_fields_set,
        **{part: document},
    )


@bp.route(route="v1/admin/settings", methods=["GET"])
@endpoint(
    etag=True, tenant=True, roles=EDITORS, responses={200: RestaurantSettings}, summary="Settings"
)
def admin_settings_get(call: Call) -> func.HttpResponse:
    record = fresh_tenant(call)
    return _tagged(effective_settings(record).as_data(), record)


@bp.route(route="v1/admin/settings", methods=["PUT"])
@endpoint(
    etag=True,
    tenant=True,
    roles=EDITORS,
    body=SettingsUpdate,
    responses={200: RestaurantSettings},
    headers=("If-Match",),
    summary="Replace the settings",
)
def admin_settings_put(call: Call) -> func.HttpResponse:
    require_storable(call.require_tenant().schema_name, call.body.tax.rate_bp)
    record = _replace(call, "settings")
    return _tagged(effective_settings(record).as_data(), record)


@bp.route(route="v1/admin/theme", methods=["GET"])
@endpoint(
    etag=True, tenant=True, roles=EDITORS, responses={200: ThemeTokens}, summary="Theme tokens"
)
def admin_theme_get(call: Call) -> func.HttpResponse:
    record = fresh_tenant(call)
    return _tagged(storefront_theme(record.theme), record)


@bp.route(route="v1/admin/theme", methods=["PUT"])
@endpoint(
    etag=True,
    tenant=True,
    roles=EDITORS,
    body=ThemeUpdate,
    responses={200: ThemeTokens},
    headers=("If-Match",),
    summary="Replace the theme tokens",
)
def admin_theme_put(call: Call) -> func.HttpResponse:
    record = _replace(call, "theme")
    return _tagged(record.theme, record)


@bp.route(route="v1/admin/theme/presets", methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    responses={200: ThemePresetsOut},
    summary="Starting points to copy into the theme",
)
def admin_theme_presets(call: Call) -> func.HttpResponse:
    return json_response(
        {
            "default": DEFAULT_PRESET,
            # Without assets: a preset is a look, and the saved copy keeps the logo and hero.
            "presets": [{"name": name, "tokens": preset_look(name)} for name in PRESETS],
        }
    )
