"""A newcomer signs up in Chromium (issue 9 §2, §3, DESIGN §13): from a client's authorization
request to "Create an account", the form with the tenant's own attribute, the mailed link (a
real SMTP server), the confirm button, sign-in, and back at the client with a code."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.http.test_registration import open_tenant
from tests.support.browser import PASSWORD, REDIRECT, code_request, pkce_pair
from tests.support.mail_server import MailedServer, mailed, verify_link

__all__ = ["mailed"]


def test_a_newcomer_signs_up_inside_the_authorization_request(chromium: Any, mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    issued = mailed.make.client(
        tenant, name="Shop", grant_types=("authorization_code",), redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email", "organisation"),
    )  # fmt: skip
    _, challenge = pkce_pair()
    params = code_request(issued.client.client_id, challenge, scope="openid email organisation")
    arrived: list[str] = []

    def client_callback(route: Any) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, body="signed in", content_type="text/plain")

    context = chromium.new_context()
    page = context.new_page()
    page.route(f"{REDIRECT}**", client_callback)
    page.goto(f"{issuer}/authorize?{urlencode(params)}")
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url(f"{issuer}/signup?txn=**")
    page.get_by_label("E-mail address").fill("newcomer@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("Given name").fill("Ada")
    page.get_by_label("Family name").fill("Lovelace")
    page.get_by_label("Company").fill("Analytical Engines Ltd")
    page.get_by_label("Newsletter").check()
    page.get_by_role("button", name="Create the account").click()
    assert page.get_by_role("heading").inner_text() == "Check your mail"

    page.goto(verify_link(mailed.mails_to("newcomer@example.com", 1)[0]))
    page.get_by_role("button", name="Confirm my address").click()
    page.wait_for_url(f"{issuer}/login?**")
    assert "Your e-mail address is confirmed" in page.locator("p.notice").inner_text()
    page.get_by_label("E-mail address").fill("newcomer@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/consent**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}**")
    context.close()
    [back] = arrived
    query = parse_qs(urlsplit(back).query)
    assert query["state"] == ["st-123"] and query["code"]
