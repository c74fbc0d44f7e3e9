"""The `durableClient` binding payload and the management URLs the host hands out."""

from __future__ import annotations

import json
from urllib.parse import quote

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
ID_PLACEHOLDER = "INSTANCEID"
CONNECTION_NAME = "Storage"  # what the real host puts in `connection=` for AzureWebJobsStorage


def rpc_base_url(base_url: str) -> str:
    """`<base>/runtime/webhooks/durabletask/` (the SDK appends paths to it)."""
    return f"{base_url.rstrip('/')}{WEBHOOK_PATH}/"


def management_urls(base_url: str, hub: str, instance_id: str = ID_PLACEHOLDER) -> dict[str, str]:
    """The management URLs of one instance, as in create_check_status_response's payload."""
    rpc = rpc_base_url(base_url)
    instance = f"{rpc}instances/{quote(instance_id, safe='')}"
    common = f"taskHub={quote(hub)}&connection={CONNECTION_NAME}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{instance}?{common}",
        "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{common}",
        "terminatePostUri": f"{instance}/terminate?reason={{text}}&{common}",
        "rewindPostUri": f"{instance}/rewind?reason={{text}}&{common}",
        "purgeHistoryDeleteUri": f"{instance}?{common}",
        "restartPostUri": f"{instance}/restart?{common}",
        "suspendPostUri": f"{instance}/suspend?reason={{text}}&{common}",
        "resumePostUri": f"{instance}/resume?reason={{text}}&{common}",
    }


def client_binding_json(base_url: str, hub: str) -> str:
    """What the host passes to a function's `durableClient` parameter."""
    rpc = rpc_base_url(base_url)
    common = f"taskHub={quote(hub)}&connection={CONNECTION_NAME}"
    return json.dumps(
        {
            "taskHubName": hub,
            "creationUrls": {
                "createNewInstancePostUri": (
                    f"{rpc}orchestrators/{{functionName}}[/{{instanceId}}]?{common}"
                ),
                "createAndWaitOnNewInstancePostUri": (
                    f"{rpc}orchestrators/{{functionName}}[/{{instanceId}}]"
                    f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{common}"
                ),
            },
            "managementUrls": management_urls(base_url, hub),
            "baseUrl": rpc.rstrip("/"),
            "requiredQueryStringParameters": common,
            "rpcBaseUrl": rpc,
            "httpBaseUrl": rpc.rstrip("/"),
        }
    )
