"""Rendering a message from `templates/mail/` (DESIGN §11): an HTML and a text version of each,
in a shared layout with the tenant's branding, in the language the person used (idp/i18n/).
An operator's version of a message for one tenant, `{overrides}/{slug}/mail/NAME.txt`, wins.

A message `NAME` is `NAME.txt` and `NAME.html`, each extending its layout; the text template
sets `subject`, so a message's words live in one place. Undefined values are errors, not empty
strings: a link left out of a message must fail the caller, not reach a person blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
)

from idp import i18n
from idp.services.tenancy.branding import Branding

# templates/ beside the idp package, as the app factory finds the pages (idp/app.py).
MAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
OVERRIDES = "tenant-overrides"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class MailTemplates:
    def __init__(self, directory: Path = MAIL_TEMPLATES, overrides_dir: str = "") -> None:
        loader: BaseLoader = FileSystemLoader(directory)
        if overrides_dir:
            loader = ChoiceLoader(
                [PrefixLoader({OVERRIDES: FileSystemLoader(overrides_dir)}), loader]
            )
        self._overrides = bool(overrides_dir)
        self._text = Environment(
            loader=loader,
            # Plain text, not markup: escaping would turn a link's & into &amp;.
            autoescape=False,  # noqa: S701
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
        for environment in (self._text, self._html):
            i18n.install(environment)

    def render(
        self,
        name: str,
        brand: Branding,
        values: Mapping[str, Any],
        tenant_slug: str | None = None,
        language: str | None = None,
    ) -> RenderedMail:
        """`language` defaults to the one being rendered in (the page that made the mail)."""
        context = {**values, "brand": brand}
        with i18n.speaking(language or i18n.current_language()):
            text = self._text.select_template(self._names(f"{name}.txt", tenant_slug))
            module = text.make_module(context)
            subject = " ".join(str(module.subject).split())  # one line: it becomes a header
            html = self._html.select_template(self._names(f"{name}.html", tenant_slug))
            rendered = html.render(context, subject=subject, lang=i18n.current_language())
        return RenderedMail(subject, str(module).strip() + "\n", rendered)

    def _names(self, name: str, tenant_slug: str | None) -> list[str]:
        if self._overrides and tenant_slug:
            return [f"{OVERRIDES}/{tenant_slug}/mail/{name}", name]
        return [name]
