"""What every hosted page shares (issue 9 §7): the tenant's branding and stylesheet, links
between the pages, the language chosen by `ui_locales` or `Accept-Language`, and an operator's
per-tenant template overrides read without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from idp.services.container import build_services
from idp.services.tenancy.branding import WHITE, contrast
from idp.services.tenancy.tenant_settings import update_settings
from tests.conftest import settings_for_tests
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.server import LiveServer, start_server


def brand(services, tenant, **branding) -> None:
    update_settings(services.uow(), tenant.slug, branding, {}, services.settings.tokens)
    services.tenant_cache.forget(tenant.slug)


def test_the_tenant_stylesheet_carries_its_colour_with_readable_text(server, services, make):
    tenant = make.tenant()
    brand(services, tenant, primary_color="#ffd700", custom_css=".brand { letter-spacing: 1px; }")
    sheet = requests.get(f"{make.issuer(tenant)}/branding.css", timeout=10)
    assert sheet.headers["Content-Type"].startswith("text/css")
    assert "--brand: #ffd700" in sheet.text
    # Gold is too light for white text and for links on white: both are adjusted to AA.
    assert "--on-brand: #1d2330" in sheet.text
    link = sheet.text.split("--link: ")[1][:7]
    assert contrast(link, WHITE) >= 4.5
    assert ".brand { letter-spacing: 1px; }" in sheet.text


@pytest.mark.in_process
def test_every_page_links_the_stylesheet_logo_and_the_other_pages(server, services, make):
    tenant = make.tenant()
    brand(services, tenant, display_name="Acme", logo_url="https://cdn.acme.example/logo.svg")
    page = requests.get(f"{make.issuer(tenant)}/login", timeout=10)
    assert f'href="/t/{tenant.slug}/branding.css"' in page.text
    assert '<img src="https://cdn.acme.example/logo.svg" alt="Acme"' in page.text
    assert "img-src 'self' https://cdn.acme.example;" in page.headers["Content-Security-Policy"]
    assert f'href="{make.issuer(tenant)}/password/forgot"' in page.text
    # Sign-up is closed by default: nothing links to it.
    assert "/signup" not in page.text
    update_settings(
        services.uow(), tenant.slug, {}, {"self_registration": True}, services.settings.tokens
    )
    services.tenant_cache.forget(tenant.slug)
    assert (
        f'href="{make.issuer(tenant)}/signup"'
        in requests.get(f"{make.issuer(tenant)}/login", timeout=10).text
    )


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("", "fr-CH, fr;q=0.9, en;q=0.8", ("fr", "Se connecter")),
        ("", "de, en;q=0.5", ("en", "Sign in")),
        ("?ui_locales=fr", "en", ("fr", "Se connecter")),
        ("?ui_locales=de%20en", "fr", ("en", "Sign in")),
    ],
)
def test_the_language_follows_ui_locales_then_accept_language(
    server, make, query, header, expected
):
    tenant = make.tenant()
    page = requests.get(
        f"{make.issuer(tenant)}/login{query}", headers={"Accept-Language": header}, timeout=10
    )
    lang, heading = expected
    assert f'<html lang="{lang}">' in page.text
    assert f"<h1>{heading}</h1>" in page.text


@pytest.fixture(scope="module")
def overriding_server(server, backend, tmp_path_factory) -> Iterator[tuple[LiveServer, Path]]:
    directory = tmp_path_factory.mktemp("overrides")
    port = free_port()
    settings = settings_for_tests(
        backend, tmp_path_factory.mktemp("instance"), f"http://127.0.0.1:{port}"
    ).replace(
        pages={"template_overrides": str(directory)},
        keys={"kek_file": server.services.settings.keys.kek_file},
    )
    instance = start_server(build_services(settings), port)
    yield instance, directory
    instance.stop()
    instance.services.close()


def test_an_operator_overrides_a_page_for_one_tenant_without_a_restart(overriding_server):
    instance, directory = overriding_server
    make = Factory(instance.services, instance.url)
    mine, other = make.tenant(), make.tenant()
    pages = directory / mine.slug / "pages"
    pages.mkdir(parents=True)
    (pages / "login.html").write_text(
        "{% extends layout %}{% block content %}<h1>Welcome to Acme</h1>{% endblock %}"
    )
    assert "<h1>Welcome to Acme</h1>" in requests.get(f"{make.issuer(mine)}/login", timeout=10).text
    assert "<h1>Sign in</h1>" in requests.get(f"{make.issuer(other)}/login", timeout=10).text
    time.sleep(1.1)  # a new modification time
    (pages / "login.html").write_text(
        "{% extends layout %}{% block content %}<h1>Hello again</h1>{% endblock %}"
    )
    assert "<h1>Hello again</h1>" in requests.get(f"{make.issuer(mine)}/login", timeout=10).text
