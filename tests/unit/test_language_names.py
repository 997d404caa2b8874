"""The languages' names written in idp.i18n are CLDR's, as Babel gives them."""

from __future__ import annotations

import pytest
from babel import Locale

from idp import i18n


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_name_is_cldr_name_in_itself(language: str) -> None:
    assert i18n.display_name(language) == Locale.parse(language).get_display_name(language)


def test_unknown_language_is_its_own_name() -> None:
    assert i18n.display_name("xx") == "xx"
