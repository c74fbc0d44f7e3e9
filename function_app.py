"""The Function app: one blueprint per module in functions/ (design §2).

Settings are validated here, at start, so a missing or malformed one stops the app with a
message naming it instead of failing on the first request.
"""

import azure.durable_functions as df
import azure.functions as func

from functions import (
    admin_menu,
    admin_menu_publishing,
    admin_modifiers,
    admin_orders,
    admin_settings,
    admin_tables,
    images,
    kitchen,
    kitchen_menu,
    kitchen_pause,
    migration_flows,
    openapi,
    order_timers,
    platform,
    platform_changes,
    provisioning_flows,
    store,
    store_orders,
    system,
)
from shared import log_redaction
from shared.config import get_settings
from shared.db import on_pool_open
from shared.migrate import apply_public_migrations
from shared.telemetry import configure_telemetry

get_settings()
configure_telemetry()
# A database error's text quotes the row it refused (a customer's name and phone): no log
# record of this process carries it (shared/log_redaction.py).
log_redaction.install()
# Azure has no deploy step that reaches the database: each process brings the registry (the
# public schema) up to date when it first opens its pool. Restaurants' schemas migrate through
# `POST /api/v1/platform/migrations`.
on_pool_open(apply_public_migrations)

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(system.bp)
app.register_functions(openapi.bp)
app.register_functions(store_orders.bp)
app.register_functions(kitchen.bp)
app.register_functions(kitchen_pause.bp)
app.register_functions(kitchen_menu.bp)
app.register_functions(admin_tables.bp)
app.register_functions(order_timers.bp)
app.register_functions(store.bp)
app.register_functions(admin_settings.bp)
app.register_functions(admin_menu.bp)
app.register_functions(admin_modifiers.bp)
app.register_functions(admin_menu_publishing.bp)
app.register_functions(admin_orders.bp)
app.register_functions(images.bp)
app.register_functions(platform.bp)
app.register_functions(platform_changes.bp)
app.register_functions(provisioning_flows.bp)
app.register_functions(migration_flows.bp)
