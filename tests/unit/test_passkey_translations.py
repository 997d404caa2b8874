"""Every message of the passkey pages and buttons, and every message id their code shows, has
a French translation (issue 9 §7 for the pages of issue 10 §2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idp import i18n
from idp.http.pages import account, passkeys

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
FILES = [
    TEMPLATES / "pages" / "passkey_new.html",
    TEMPLATES / "pages" / "passkey_remove.html",
    TEMPLATES / "components" / "passkeys.html",
]
MESSAGE = re.compile(r"""_\((?:"([^"]*)"|'([^']*)')""")
CODE_MESSAGES = [
    passkeys.REFUSED,
    passkeys.NOT_ADDED,
    passkeys.SIGN_IN_AGAIN,
    account.DONE["passkey"],
    account.DONE["passkey_removed"],
    "Use a passkey",  # the buttons of the login and two-step pages
]
# The account page's passkey section, between its markers.
SECTION = (
    (TEMPLATES / "pages" / "account.html")
    .read_text()
    .split('"passkeys-title"')[1]
    .split("</section>")[0]
)


def _template_messages() -> list[str]:
    texts = [path.read_text() for path in FILES] + [SECTION]
    return [double or single for text in texts for double, single in MESSAGE.findall(text)]


@pytest.mark.parametrize("message", sorted(set(_template_messages() + CODE_MESSAGES)))
def test_the_message_has_a_french_translation(message: str):
    assert i18n.catalog("fr").gettext(message) != message


def test_a_passkey_name_is_kept_in_the_french_sentence():
    french = i18n.catalog("fr").gettext("Remove “%(name)s”")
    assert french % {"name": "Laptop"} == "Supprimer « Laptop »"
