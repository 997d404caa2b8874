"""Sign-in by a mailed link in Chromium (issue 10 §3, DESIGN §13): from a client's authorization
request to "E-mail me a sign-in link", the mail (a real SMTP server), then the link opened in a
second browser context (which signs nobody in there) and in the browser that asked (back at the
client, with an ID token whose `amr` says a mailbox was proven); and the code typed instead."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenant_settings import update_settings
from idp.services.tenancy.tenants import TenantView
from tests.support.browser import REDIRECT, code_request, pkce_pair, redeem, verified_claims
from tests.support.mail_server import MailedServer, magic_code, magic_link, mailed

__all__ = ["mailed"]


def magic_tenant(mailed: MailedServer) -> TenantView:
    tenant = mailed.make.tenant()
    services = mailed.services
    policies = {"sign_in_methods": ["password", "magic_link"]}
    update_settings(services.uow(), tenant.slug, {}, policies, services.settings.tokens)
    services.tenant_cache.forget(tenant.slug)
    return tenant


def shop(mailed: MailedServer, tenant: TenantView) -> IssuedClient:
    return mailed.make.client(
        tenant, name="Shop", grant_types=("authorization_code",), redirect_uris=(REDIRECT,),
        scopes=("openid", "email"),
    )  # fmt: skip


def session_cookies(context: Any) -> list[str]:
    return [c["name"] for c in context.cookies() if c["name"].startswith("idp_session_")]


class Client:
    """The client's side: the authorization request it starts and the redirects it gets."""

    def __init__(self, issuer: str, issued: IssuedClient) -> None:
        self.issuer = issuer
        self.issued = issued
        self.verifier, challenge = pkce_pair()
        params = code_request(issued.client.client_id, challenge, scope="openid email")
        self.url = f"{issuer}/authorize?{urlencode(params)}"
        self.arrived: list[str] = []

    def callback(self, route: Any) -> None:
        self.arrived.append(route.request.url)
        route.fulfill(status=200, body="signed in", content_type="text/plain")

    def amr(self) -> list[str]:
        [back] = self.arrived
        query = parse_qs(urlsplit(back).query)
        assert query["state"] == ["st-123"]
        with requests.Session() as http:
            secret = self.issued.secret or ""
            client_id = self.issued.client.client_id
            tokens = redeem(http, self.issuer, client_id, secret, query["code"][0], self.verifier)
            return list(verified_claims(http, self.issuer, tokens["id_token"])["amr"])


def ask_for_a_link(page: Any, client: Client, email: str) -> None:
    page.route(f"{REDIRECT}**", client.callback)
    page.goto(client.url)
    page.get_by_role("link", name="E-mail me a sign-in link").click()
    page.wait_for_url(f"{client.issuer}/magic?txn=**")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.wait_for_url(f"{client.issuer}/magic/code?txn=**")
    assert page.get_by_role("heading").inner_text() == "Check your mail"


def consent(page: Any, issuer: str) -> None:
    page.wait_for_url(f"{issuer}/consent**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}**")


def test_the_mailed_link_brings_the_browser_that_asked_back_to_the_client(
    chromium: Any, mailed: MailedServer
):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    client = Client(issuer, shop(mailed, tenant))
    asking = chromium.new_context()
    page = asking.new_page()
    ask_for_a_link(page, client, person.email)
    link = magic_link(mailed.mails_to(person.email, 1)[0])

    elsewhere = chromium.new_context()  # another browser, or the phone the mail was read on
    other = elsewhere.new_page()
    other.goto(link)
    assert other.get_by_role("heading").inner_text() == "Sign in on another device?"
    other.get_by_role("button", name="Show the sign-in code").click()
    assert other.get_by_role("heading").inner_text() == "Your sign-in code"
    assert session_cookies(elsewhere) == []
    elsewhere.close()

    page.goto(link)
    consent(page, issuer)
    assert session_cookies(asking)
    asking.close()
    assert client.amr() == ["email"]


def test_the_code_typed_in_the_browser_that_asked_signs_in(chromium: Any, mailed: MailedServer):
    tenant = magic_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    client = Client(issuer, shop(mailed, tenant))
    context = chromium.new_context()
    page = context.new_page()
    ask_for_a_link(page, client, person.email)
    page.get_by_label("Sign-in code").fill(magic_code(mailed.mails_to(person.email, 1)[0]))
    page.get_by_role("button", name="Sign in").click()
    consent(page, issuer)
    context.close()
    assert client.amr() == ["email"]
