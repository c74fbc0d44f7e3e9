"""The Function app: one blueprint per module in functions/ (design §2).

Settings are validated here, at start, so a missing or malformed one stops the app with a
message naming it instead of failing on the first request.
"""

import azure.durable_functions as df
import azure.functions as func

from functions import system
from shared.config import get_settings

get_settings()

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(system.bp)
