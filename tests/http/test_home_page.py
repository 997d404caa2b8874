"""`GET /` (issue 9 §8): a newcomer finds the discovery URL pattern, the docs and the demo."""

from __future__ import annotations

from contextlib import suppress

import requests

from idp.services.errors import Conflict
from tests.support.factories import Factory


def test_the_home_page_names_the_discovery_pattern_docs_and_demo(server, make: Factory):
    with suppress(Conflict):  # another test may have made it first
        make.tenant("demo", "Demo")
    page = requests.get(f"{server.url}/", headers={"Accept-Language": "en"}, timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"{server.url}/t/&lt;tenant&gt;/.well-known/openid-configuration" in page.text
    assert 'href="/api/v1/docs"' in page.text
    assert f'href="{server.url}/t/demo/account"' in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    french = requests.get(f"{server.url}/?ui_locales=fr", timeout=10)
    assert "Ceci est un fournisseur d\u2019identit\u00e9 OpenID Connect" in french.text
