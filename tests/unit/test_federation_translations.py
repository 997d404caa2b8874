"""Every message of the federation pages, buttons and account section, and every message id
their code shows, has a French translation (issue 9 §7 for the pages of issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idp import i18n
from idp.http.pages import account, federation_link, federation_messages

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
FILES = [
    TEMPLATES / "components" / "federation.html",
    TEMPLATES / "pages" / "federation_link_proof.html",
    TEMPLATES / "pages" / "federation_link_confirm.html",
    TEMPLATES / "pages" / "federation_redirect.html",
]
MESSAGE = re.compile(r"""_\((?:"([^"]*)"|'([^']*)')""")
CODE_MESSAGES = [
    *federation_messages.ACCOUNT_MESSAGES.values(),
    federation_link.WRONG_PASSWORD,
    account.DONE["federation_linked"],
    account.DONE["federation_unlinked"],
]
# The account page's section, between its markers.
SECTION = (
    (TEMPLATES / "pages" / "account.html")
    .read_text()
    .split('"providers-title"')[1]
    .split("</section>")[0]
)


def _template_messages() -> list[str]:
    texts = [path.read_text() for path in FILES] + [SECTION]
    return [double or single for text in texts for double, single in MESSAGE.findall(text)]


@pytest.mark.parametrize("message", sorted(set(_template_messages() + CODE_MESSAGES)))
def test_the_message_has_a_french_translation(message: str) -> None:
    assert i18n.catalog("fr").gettext(message) != message


def test_the_provider_name_is_kept_in_the_french_button() -> None:
    french = i18n.catalog("fr").gettext("Continue with %(name)s")
    assert "%(name)s" in french
