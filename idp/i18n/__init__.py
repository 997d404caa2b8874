"""Languages of the hosted pages and mails (DESIGN §11): English and French.

Messages are written in English in the templates and code (the gettext message ids) and
translated by gettext catalogs under `locales/<language>/*.po`, one file per area so that each
part of the product keeps its own words. The catalogs are read when first needed, with Babel,
straight from the `.po` files: a translator edits text, never runs a build step.

The language of what is being rendered is a context variable: a page sets it from the
authorization request's `ui_locales` or the browser's `Accept-Language`, a mail from the
language its recipient used, and the templates' `_()` and `{% trans %}` read it.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from jinja2 import Environment

DEFAULT_LANGUAGE = "en"
# Every language we have pages and mails in, with its name in itself as CLDR writes it (what
# Babel's Locale.get_display_name says; written here because loading a Babel locale costs
# ~2.5 MB a language in every worker, for one word on the page).
NAMES = {"en": "English", "fr": "français"}
# Advertised as `ui_locales_supported`.
LANGUAGES = tuple(NAMES)
LOCALES = Path(__file__).resolve().parent / "locales"

_current: ContextVar[str] = ContextVar("idp_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Marks a message id defined in code and translated where it is shown."""
    return message


@cache
def catalog(language: str) -> stdlib_gettext.NullTranslations:
    """All of a language's `.po` files as one translations object; English is the ids. Babel
    is loaded with the first catalog of another language, not in every worker at start."""
    merged: stdlib_gettext.NullTranslations = stdlib_gettext.NullTranslations()
    directory = LOCALES / language
    if language == DEFAULT_LANGUAGE or not directory.is_dir():
        return merged
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    for po_file in sorted(directory.glob("*.po")):
        with po_file.open("rb") as source:
            messages = read_po(source, locale=language)
        compiled = BytesIO()
        write_mo(compiled, messages)
        compiled.seek(0)
        translations = Translations(compiled)
        if isinstance(merged, Translations):
            merged.merge(translations)
        else:
            merged = translations
    return merged


def current_language() -> str:
    return _current.get()


def set_language(language: str) -> None:
    """The language of what this thread renders next (a request sets it first thing)."""
    _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Render in `language` (one of LANGUAGES) inside the block."""
    token = _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return catalog(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return catalog(_current.get()).ngettext(singular, plural, count)


def install(environment: Environment) -> None:
    """`_()`, `gettext`, `ngettext` and `{% trans %}` in `environment`'s templates, in the
    current language; new-style, so `_("Hello %(name)s", name=x)` escapes `x` in HTML."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    # A message made in code (an error naming what was typed) may hold a '%': translated as
    # it is, never formatted; autoescape still applies to it like any other value.
    environment.globals["translate"] = gettext


def lookup(tag: str) -> str | None:
    """The language of a BCP 47 tag (RFC 4647 §3.4 lookup: `fr-CA` falls back to `fr`)."""
    parts = tag.strip().lower().replace("_", "-").split("-")
    while parts:
        if "-".join(parts) in LANGUAGES:
            return "-".join(parts)
        parts.pop()
    return None


def negotiate(preferred: Iterable[str]) -> str:
    """The first of `preferred` (most wanted first) we speak, else English."""
    for tag in preferred:
        found = lookup(tag)
        if found:
            return found
    return DEFAULT_LANGUAGE


def display_name(language: str) -> str:
    """The language's name in itself ("français"), for a language switcher."""
    return NAMES.get(language, language)
