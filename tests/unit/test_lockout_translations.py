"""The lockout's wait on the login page has a French translation in both plural forms
(idp/i18n/locales/fr/lockout.po): a missing one would show English on a French page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idp import i18n

LOGIN = Path(__file__).resolve().parents[2] / "templates" / "pages" / "login.html"
PLURAL = re.compile(r'ngettext\("([^"]+)", "([^"]+)"')


def test_the_login_page_shows_the_wait_through_ngettext():
    assert PLURAL.findall(LOGIN.read_text())


@pytest.mark.parametrize("count", [1, 2, 60])
def test_the_wait_has_a_french_translation(count: int):
    [(singular, plural)] = PLURAL.findall(LOGIN.read_text())
    english = plural if count > 1 else singular
    french = i18n.catalog("fr").ngettext(singular, plural, count)
    assert french != english and "%(num)d" in french
    assert (french % {"num": count}).startswith("Trop de tentatives. Réessayez dans")
