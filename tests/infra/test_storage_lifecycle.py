"""The storage account's lifecycle rules and the uploads subscription: refused and undelivered
uploads do not pile up for good, and no upload too large to read is handed to the trigger."""

from __future__ import annotations

import re

from shared.images.limits import MAX_UPLOAD_BYTES
from shared.images.targets import QUARANTINE_CONTAINER, UPLOADS_CONTAINER
from tests.infra.test_infra_structure import INFRA, bicep, resources


def test_refused_uploads_expire_after_the_documented_month() -> None:
    (policy,) = resources("Microsoft.Storage/storageAccounts/managementPolicies@")
    assert policy.value("name") == "'default'", "the account's one policy must be named default"
    rules = policy.value("properties")
    assert re.search(rf"prefixMatch:\s*\[\s*'{QUARANTINE_CONTAINER}/'\s*\]", rules)
    assert "daysAfterModificationGreaterThan: quarantineRetentionDays" in rules
    assert "enabled: true" in rules
    params = bicep(INFRA / "app" / "storage.bicep").text
    assert re.search(r"param quarantineRetentionDays int = 30\b", params)


def _rule(rules: str, name: str) -> str:
    """The text of one lifecycle rule, from its name to the next rule's."""
    start = rules.index(f"name: '{name}'")
    following = rules.find("name: '", start + 1)
    return rules[start : following if following >= 0 else len(rules)]


def test_uploads_the_trigger_never_took_expire_after_a_week() -> None:
    (policy,) = resources("Microsoft.Storage/storageAccounts/managementPolicies@")
    rule = _rule(policy.value("properties"), "expire-stale-uploads")
    assert "prefixMatch: ['${uploadsContainerName}/']" in rule
    assert "daysAfterModificationGreaterThan: staleUploadRetentionDays" in rule
    assert "enabled: true" in rule
    storage = bicep(INFRA / "app" / "storage.bicep").text
    assert f"var uploadsContainerName = '{UPLOADS_CONTAINER}'" in storage
    assert re.search(r"param staleUploadRetentionDays int = 7\b", storage)
    # The quarantine rule keeps its own month: the prefixes do not overlap.
    assert "staleUploadRetentionDays" not in _rule(
        policy.value("properties"), "expire-quarantined-uploads"
    )


def test_the_trigger_is_handed_uploads_past_the_image_limit_but_not_huge_ones() -> None:
    """Event Grid delivers an upload only up to maxDeliveredUploadBytes: one a little over the
    10 MB limit still reaches the app and is refused with its reason; a huge one, which the
    host would read whole into memory, is never delivered."""
    (subscription,) = resources("Microsoft.EventGrid/systemTopics/eventSubscriptions@")
    event_filter = subscription.nested_object("properties")["filter"]
    assert re.search(
        r"operatorType: 'NumberLessThanOrEquals'\s*key: 'data.contentLength'\s*"
        r"value: maxDeliveredUploadBytes",
        event_filter,
    ), event_filter
    events = bicep(INFRA / "app" / "events.bicep").text
    found = re.search(r"param maxDeliveredUploadBytes int = (\d+)", events)
    assert found, "maxDeliveredUploadBytes needs a default"
    assert MAX_UPLOAD_BYTES < int(found[1]) <= 256 * 1024 * 1024
