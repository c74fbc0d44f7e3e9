"""Fixtures for the devhost tests that talk to Azurite (blob triggers)."""

from __future__ import annotations

import os
import uuid

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.blob_triggers import DEFAULT_CONNECTION


@pytest.fixture
def connection() -> str:
    conn = os.environ.get(DEFAULT_CONNECTION)
    if not conn:
        pytest.fail("AzureWebJobsStorage is not set: run under `python -m devhost.services exec`")
    return conn


@pytest.fixture
def container() -> str:
    return f"up{uuid.uuid4().hex[:12]}"


@pytest.fixture
def blobs(connection: str) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(connection)
