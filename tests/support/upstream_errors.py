"""Assert that an adapter call fails the way federation fails: an UpstreamError."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from idp.federation import UpstreamError


def refused(call: Callable[[], object]) -> str:
    """Run `call`, which must raise UpstreamError (nothing else may escape); its reason."""
    with pytest.raises(UpstreamError) as caught:
        call()
    return caught.value.reason
