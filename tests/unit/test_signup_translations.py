"""Every message of the sign-up and verification pages and mails, and every message id their
code shows, has a French translation (issue 9 §7): a missing one would show English on a French
page without any test noticing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from idp import i18n
from idp.http.pages import routes, signup
from idp.services.accounts import registration
from idp.services.tenancy import profile_attributes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [
    *sorted((ROOT / "templates" / "pages").glob("signup*.html")),
    *(ROOT / "templates" / "mail" / f"{name}.{kind}"
      for name in ("verify_email", "signup_existing") for kind in ("html", "txt")),
    ROOT / "templates" / "pages" / "login.html",
]  # fmt: skip
MESSAGE = re.compile(r'_\("((?:[^"\\]|\\.)*)"')
CODE_MESSAGES = [
    registration.BAD_EMAIL,
    registration.NO_GIVEN_NAME,
    profile_attributes.REQUIRED,
    routes.ADDRESS_CONFIRMED,
    routes.CONFIRM_FIRST,
    signup.PASSWORDS_DIFFER,
]


def _template_messages() -> list[str]:
    found = []
    for template in TEMPLATES:
        found += [ast.literal_eval(f'"{m}"') for m in MESSAGE.findall(template.read_text())]
    return found


@pytest.mark.parametrize("message", sorted(set(_template_messages() + CODE_MESSAGES)))
def test_the_message_has_a_french_translation(message: str):
    assert i18n.catalog("fr").gettext(message) != message
