"""Every message of the sign-in link pages and mail, and every message id their code shows,
has a French translation (issue 10 §3): a missing one would show English on a French page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from idp import i18n
from idp.http.pages import magic

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [
    *sorted((ROOT / "templates" / "pages").glob("magic*.html")),
    *(ROOT / "templates" / "mail" / f"magic_link.{kind}" for kind in ("html", "txt")),
    ROOT / "templates" / "pages" / "login.html",
]
MESSAGE = re.compile(r'_\("((?:[^"\\]|\\.)*)"')


def _messages() -> list[str]:
    found = [magic.WRONG_CODE, magic.CODE_VOID]
    for template in TEMPLATES:
        found += [ast.literal_eval(f'"{m}"') for m in MESSAGE.findall(template.read_text())]
    return found


@pytest.mark.parametrize("message", sorted(set(_messages())))
def test_the_message_has_a_french_translation(message: str):
    assert i18n.catalog("fr").gettext(message) != message
