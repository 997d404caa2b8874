"""Rendering a message from `templates/mail/` (DESIGN §11): an HTML and a text version of each,
in a shared layout with the tenant's branding.

A message `NAME` is `NAME.txt` and `NAME.html`, each extending its layout; the text template
sets `subject`, so a message's words live in one place. Undefined values are errors, not empty
strings: a link left out of a message must fail the caller, not reach a person blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from idp.services.tenancy.tenants import TenantView

# templates/ beside the idp package, as the app factory finds the pages (idp/app.py).
MAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
# The colour of links and the header rule when a tenant chose none (templates/assets/idp.css).
DEFAULT_COLOR = "#3b4a6b"


@dataclass(frozen=True)
class Branding:
    name: str
    color: str
    logo_url: str | None

    @classmethod
    def of(cls, tenant: TenantView) -> Branding:
        # Tenant settings checked the colour (#rrggbb) and the logo (https) when they were set.
        name = tenant.display_name or tenant.name
        return cls(name, tenant.primary_color or DEFAULT_COLOR, tenant.logo_url)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class MailTemplates:
    def __init__(self, directory: Path = MAIL_TEMPLATES) -> None:
        loader = FileSystemLoader(directory)
        self._text = Environment(
            loader=loader,
            # Plain text, not markup: escaping would turn a link's & into &amp;.
            autoescape=False,  # noqa: S701
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)

    def render(self, name: str, brand: Branding, values: Mapping[str, Any]) -> RenderedMail:
        context = {**values, "brand": brand}
        text = self._text.get_template(f"{name}.txt").make_module(context)
        subject = " ".join(str(text.subject).split())  # one line: it becomes a header
        html = self._html.get_template(f"{name}.html").render(context, subject=subject)
        return RenderedMail(subject, str(text).strip() + "\n", html)
