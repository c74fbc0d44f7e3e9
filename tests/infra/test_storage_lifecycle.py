"""The storage account's lifecycle rules: refused uploads do not pile up for good."""

from __future__ import annotations

import re

from shared.images.targets import QUARANTINE_CONTAINER
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
