"""The account page as a person reaches it: through its own sign-in (an authorization request
of the built-in `account` client), by following redirects and forms like a browser."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import update

from idp.models.tenants import Tenant
from idp.services.container import Services
from idp.services.tenancy.tenants import TenantView
from tests.support.browser import PASSWORD, Browser

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def open_account(
    http: requests.Session,
    issuer: str,
    email: str,
    path: str = "/account",
    password: str = PASSWORD,
) -> requests.Response:
    """GET `issuer + path`, signing in on the way if asked to; the page finally shown."""
    browser = Browser(http, issuer)
    response = browser.get(f"{issuer}{path}")
    for _ in range(8):
        if response.status_code not in (302, 303):
            return response
        location = response.headers["Location"]
        if urlsplit(location).path.endswith("/login"):
            response = browser.sign_in(location, email, password)
        else:
            response = browser.get(location if "://" in location else _absolute(issuer, location))
    raise AssertionError("the account page was never reached")


def _absolute(issuer: str, path: str) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}{path}"


def signed_in_account(issuer: str, email: str, password: str = PASSWORD) -> requests.Session:
    """A browser signed in at `issuer` through the account page."""
    http = requests.Session()
    page = open_account(http, issuer, email, password=password)
    assert page.status_code == 200 and "<h1>Your account</h1>" in page.text, page.text
    return http


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def post_form(http: requests.Session, issuer: str, path: str, **fields: str) -> requests.Response:
    """Post one of the account page's forms with the page's CSRF token (not followed)."""
    page = http.get(f"{issuer}/account", allow_redirects=False)
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_of(page.text), **fields}
    return http.post(f"{issuer}{path}", data=data, allow_redirects=False)


def set_tenant_columns(services: Services, tenant: TenantView, **values: Any) -> None:
    """Tenant policies the settings API does not take yet (account_deletion,
    profile_attributes), written to the row; the server's tenant cache forgets the old copy."""
    with services.uow() as uow:
        uow.session.execute(update(Tenant).where(Tenant.id == tenant.id).values(**values))
        uow.commit()
    services.tenant_cache.forget(tenant.slug)
