"""A person who forgot their password, in Chromium (issue 9 §4, DESIGN §13): from a client's
authorization request to "Forgot your password?", the mailed link (a real SMTP server), a new
password, sign-in, and back at the client with a code."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.browser import REDIRECT, code_request, pkce_pair
from tests.support.mail_server import MailedServer, mailed, reset_link

__all__ = ["mailed"]
NEW_PASSWORD = "a brand new passphrase"


def test_a_forgotten_password_is_reset_inside_the_authorization_request(
    chromium: Any, mailed: MailedServer
):
    make = mailed.make
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    issued = make.client(
        tenant, name="Shop", grant_types=("authorization_code",), redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email"),
    )  # fmt: skip
    _, challenge = pkce_pair()
    params = code_request(issued.client.client_id, challenge, scope="openid email")
    url = f"{issuer}/authorize?{urlencode(params)}"
    arrived: list[str] = []

    def client_callback(route: Any) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, body="signed in", content_type="text/plain")

    context = chromium.new_context()
    page = context.new_page()
    page.route(f"{REDIRECT}**", client_callback)
    page.goto(url)
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(f"{issuer}/password/forgot?txn=**")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_role("button", name="Send the link").click()
    assert page.get_by_role("heading").inner_text() == "Check your mail"

    page.goto(reset_link(mailed.mails_to(person.email, 1)[0]))
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    page.get_by_role("link", name="Sign in with your new password").click()
    page.wait_for_url(f"{issuer}/login?txn=**")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/consent**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}**")
    context.close()
    [back] = arrived
    query = parse_qs(urlsplit(back).query)
    assert query["state"] == ["st-123"] and query["code"]
