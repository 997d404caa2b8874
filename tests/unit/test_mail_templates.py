"""Mail templates (services/mail_templates.py): branding in both parts, markup escaped in the
HTML part only, and a value left out fails the caller instead of reaching a person blank."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError

from idp.services.mail_templates import MailTemplates
from idp.services.tenancy.branding import Branding

BRAND = Branding(
    "Acme <Sign-in> & Co", "#b4235a", "https://cdn.example.com/logo.png", "#ffffff", "#b4235a", ""
)
LINK = "https://id.example.com/t/acme/.well-known/openid-configuration?a=1&b=2"


def test_both_parts_carry_the_branding_and_the_link() -> None:
    mail = MailTemplates().render("test", BRAND, {"to": "a@example.com", "discovery_url": LINK})
    assert mail.subject == "Test message from Acme <Sign-in> & Co"
    assert "Acme <Sign-in> & Co" in mail.text and LINK in mail.text
    assert "Acme &lt;Sign-in&gt; &amp; Co" in mail.html and "<Sign-in>" not in mail.html
    assert f'href="{LINK.replace("&", "&amp;")}"' in mail.html
    assert 'src="https://cdn.example.com/logo.png"' in mail.html
    assert "#b4235a" in mail.html


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(UndefinedError, match="discovery_url"):
        MailTemplates().render("test", BRAND, {"to": "a@example.com"})


def test_a_mail_is_written_in_the_language_asked_for() -> None:
    mail = MailTemplates().render(
        "test", BRAND, {"to": "a@example.com", "discovery_url": LINK}, language="fr"
    )
    assert mail.subject == "Message de test de Acme <Sign-in> & Co"
    assert "Ce message a été envoyé par" in mail.text
    assert '<html lang="fr">' in mail.html


def test_an_operator_overrides_a_mail_for_one_tenant(tmp_path: Path) -> None:
    mine = tmp_path / "acme" / "mail"
    mine.mkdir(parents=True)
    (mine / "test.txt").write_text(
        '{% extends "layout.txt" %}{% set subject = "Hello from Acme" %}'
        "{% block content %}Our own words {{ discovery_url }}{% endblock %}"
    )
    templates = MailTemplates(overrides_dir=str(tmp_path))
    values = {"to": "a@example.com", "discovery_url": LINK}
    ours = templates.render("test", BRAND, values, tenant_slug="acme")
    assert ours.subject == "Hello from Acme" and "Our own words" in ours.text
    # The HTML part was not overridden: the shipped one is used; other tenants get ours.
    assert "Test message" in ours.html
    assert templates.render("test", BRAND, values, tenant_slug="other").subject.startswith(
        "Test message from"
    )
