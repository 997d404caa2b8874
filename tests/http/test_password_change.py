"""Password change on the account pages (issue 9 §5): the current password is required and
throttled like a sign-in; a change ends every other session of the person, keeps this one,
revokes their tokens and sends the notice mail."""

from __future__ import annotations

import requests

from tests.http.test_password_reset import NEW_PASSWORD, sessions_of, signs_in
from tests.support.account import open_account
from tests.support.browser import PASSWORD, Browser, hidden_fields
from tests.support.mail_server import MailedServer, mailed

__all__ = ["mailed"]


def signed_in(issuer: str, email: str) -> requests.Session:
    http = requests.Session()
    response = Browser(http, issuer).sign_in(f"{issuer}/login", email, PASSWORD)
    assert response.status_code == 200, response.text
    return http


def change(http: requests.Session, issuer: str, current: str, new: str) -> requests.Response:
    page = http.get(f"{issuer}/account/password", allow_redirects=False)
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text) | {
        "current_password": current,
        "password": new,
        "password_confirm": new,
    }
    return http.post(f"{issuer}/account/password", data=form, allow_redirects=False)


def test_without_a_session_the_page_signs_in_and_comes_back(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    response = requests.get(f"{issuer}/account/password", allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{issuer}/authorize?")
    with requests.Session() as http:
        page = open_account(http, issuer, person.email, "/account/password")
        assert page.status_code == 200 and "Change your password" in page.text
        assert page.url == f"{issuer}/account/password"


def test_a_wrong_current_password_is_refused(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with signed_in(issuer, person.email) as http:
        refused = change(http, issuer, "not my password", NEW_PASSWORD)
        assert refused.status_code == 400
        assert 'href="#current_password"' in refused.text
        no_csrf = http.post(
            f"{issuer}/account/password",
            data={"current_password": PASSWORD, "password": NEW_PASSWORD},
        )
        assert no_csrf.status_code == 400
    assert signs_in(issuer, person.email, PASSWORD)


def test_a_change_ends_the_other_sessions_and_keeps_this_one(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    other = signed_in(issuer, person.email)
    with signed_in(issuer, person.email) as http:
        assert sessions_of(mailed, person.subject) == 2
        done = change(http, issuer, PASSWORD, NEW_PASSWORD)
        assert done.status_code == 200 and "Your other sessions" in done.text
        assert sessions_of(mailed, person.subject) == 1
        # This browser is still signed in; the other one is sent to sign in.
        assert http.get(f"{issuer}/account/password", allow_redirects=False).status_code == 200
    gone = other.get(f"{issuer}/account/password", allow_redirects=False)
    assert gone.status_code == 303
    other.close()
    [notice] = mailed.mails_to(person.email, 1)
    assert notice["Subject"] == "Your Test tenant password was changed"
    assert signs_in(issuer, person.email, NEW_PASSWORD)
    assert not signs_in(issuer, person.email, PASSWORD)
