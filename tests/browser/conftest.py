"""One headless Chromium for every browser test of the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.chromium import chromium_browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    yield from chromium_browser()
