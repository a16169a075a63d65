"""Fixtures every tier shares: the authors' kit as a plugin, and clearing the container caches
between tests (as Powertools' clear_caches). Shared helpers live in ``tests/support.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from claimflow.handler import clear_caches

# The workflow authors' kit is a pytest plugin; our own tests use it like theirs would.
pytest_plugins = ["claimflow_local.testing"]

# Tests never reach AWS; boto3 and aws-sam-translator still want a region to exist.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# What a developer stored with `claimflow env set --local` (local/state/) is theirs: local stacks the
# tests start seed local/settings.json only, unless a test says otherwise.
os.environ.setdefault("CLAIMFLOW_LOCAL_STATE", "ignore")


@pytest.fixture(autouse=True)
def _fresh_container() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()
