"""Every message of the second-factor pages, and every message id their code shows, has a
French translation (issue 9 §7 for the pages of issue 10 §1)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from idp import i18n
from idp.http.pages import account, factor_forms

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "templates" / "pages"
TEMPLATES = [
    *(
        PAGES / f"{name}.html"
        for name in ("mfa", "totp_enrol", "recovery_codes", "totp_remove", "passkey_required")
    ),
]
MESSAGE = re.compile(r'_\("((?:[^"\\]|\\.)*)"')
CODE_MESSAGES = [
    factor_forms.WRONG_CODE,
    factor_forms.WRONG_FIRST_CODE,
    factor_forms.WAIT,
    factor_forms.PASSKEY_ONLY,
    account.DONE["totp"],
    account.DONE["codes"],
    account.DONE["totp_removed"],
]
# The account page's two-step section, between its markers.
SECTION = (PAGES / "account.html").read_text().split('"two-step-title"')[1].split("</section>")[0]


def _template_messages() -> list[str]:
    texts = [template.read_text() for template in TEMPLATES] + [SECTION]
    return [ast.literal_eval(f'"{m}"') for text in texts for m in MESSAGE.findall(text)]


@pytest.mark.parametrize("message", sorted(set(_template_messages() + CODE_MESSAGES)))
def test_the_message_has_a_french_translation(message: str):
    assert i18n.catalog("fr").gettext(message) != message or message == "Code"


def test_the_recovery_code_count_is_translated_in_both_forms():
    french = i18n.catalog("fr")
    singular, plural = (
        "You have %(num)d unused recovery code.",
        "You have %(num)d unused recovery codes.",
    )
    assert (
        french.ngettext(singular, plural, 1) % {"num": 1}
        == "Il vous reste 1 code de secours inutilisé."
    )
    assert (
        french.ngettext(singular, plural, 9) % {"num": 9}
        == "Il vous reste 9 codes de secours inutilisés."
    )
