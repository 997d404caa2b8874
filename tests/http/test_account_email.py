"""E-mail change on the account page (issue 9 §6): the new address confirms through a mailed
single-use link, the old one is told, and the page never says whether an address is taken."""

from __future__ import annotations

import re

import requests

from idp.services.audit import AuditFilter, page_events
from tests.http.test_password_reset import CSRF, signs_in
from tests.support.account import post_form, signed_in_account
from tests.support.browser import PASSWORD, hidden_fields
from tests.support.mail_server import MailedServer, mailed, text_of

__all__ = ["mailed"]

LAST_SEEN = re.compile(r"Last seen: [^<]*")
LINK = re.compile(r"https?://\S+/email/confirm\?token=[\w-]+")


def same_page(page: str) -> str:
    """The page without what changes between two renders: the CSRF token and the clock."""
    return LAST_SEEN.sub("", CSRF.sub("", page))


def ask(http: requests.Session, issuer: str, new: str, password: str = PASSWORD):
    return post_form(http, issuer, "/account/email", new_email=new, email_password=password)


def confirm(http: requests.Session, link: str) -> requests.Response:
    page = http.get(link, allow_redirects=False)
    if page.status_code != 200:
        return page
    action = link.split("?", 1)[0]
    return http.post(action, data=hidden_fields(page.text), allow_redirects=False)


def link_in(mailed: MailedServer, address: str, count: int = 1) -> str:
    found = LINK.search(text_of(mailed.mails_to(address, count)[count - 1]))
    assert found
    return found.group(0)


def test_an_address_changes_once_confirmed(mailed: MailedServer):
    make = mailed.make
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    new = f"new-{person.email}"
    with signed_in_account(issuer, person.email) as http:
        asked = ask(http, issuer, new)
        assert (asked.status_code, asked.headers["Location"]) == (
            303,
            f"{issuer}/account?done=email",
        )
        link = link_in(mailed, new)
        [notice] = mailed.mails_to(person.email, 1)
        assert notice["Subject"] == "Your Test tenant address is being changed"
        assert new in text_of(notice)
        shown = http.get(link, allow_redirects=False)  # a scanner's GET spends nothing
        assert shown.status_code == 200 and new in shown.text
        assert shown.headers["Referrer-Policy"] == "no-referrer"
        done = confirm(http, link)
        assert done.status_code == 200 and "Address changed" in done.text
        again = confirm(http, link)
        assert again.status_code == 400 and "no longer works" in again.text
    assert not signs_in(issuer, person.email, PASSWORD)
    assert signs_in(issuer, new, PASSWORD)
    with mailed.services.uow() as uow:
        assert uow.users.by_subject(tenant.id, person.subject).email_verified is True
    events = page_events(
        mailed.services.uow(), tenant.id, False, AuditFilter(action="user.*"), None, 50
    )
    assert {e.action for e in events.items if e.action.startswith("user.email")} == {
        "user.email_change_requested",
        "user.email_change",
    }


def test_a_wrong_password_or_address_is_refused_on_the_page(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with signed_in_account(issuer, person.email) as http:
        wrong = ask(http, issuer, f"x-{person.email}", password="not my password")
        assert wrong.status_code == 400 and 'href="#email_password"' in wrong.text
        bad = ask(http, issuer, "not an address")
        assert bad.status_code == 400 and 'href="#new_email"' in bad.text
        same = ask(http, issuer, person.email)
        assert same.status_code == 400 and "already the address" in same.text
    assert mailed.mails_now(person.email) == 0


def test_a_taken_address_gets_the_same_answer_and_fails_at_confirmation(mailed: MailedServer):
    make = mailed.make
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person, owner = make.user(tenant), make.user(tenant)
    free = f"free-{person.email}"
    with signed_in_account(issuer, person.email) as http:
        taken_answer = ask(http, issuer, owner.email)
        after_taken = http.get(taken_answer.headers["Location"]).text
        # The owner of the taken mailbox gets the link; following it changes nothing.
        with requests.Session() as owners_browser:
            refused = confirm(owners_browser, link_in(mailed, owner.email))
            assert refused.status_code == 409 and "cannot be used" in refused.text
        free_answer = ask(http, issuer, free)
        after_free = http.get(free_answer.headers["Location"]).text
        assert taken_answer.status_code == free_answer.status_code == 303
        assert taken_answer.headers["Location"] == free_answer.headers["Location"]
        assert same_page(after_taken) == same_page(after_free)
    assert signs_in(issuer, person.email, PASSWORD)
    assert signs_in(issuer, owner.email, PASSWORD)


def test_forged_and_older_links_are_refused(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with signed_in_account(issuer, person.email) as http:
        ask(http, issuer, f"one-{person.email}")
        older = link_in(mailed, f"one-{person.email}")
        ask(http, issuer, f"two-{person.email}")
        newer = link_in(mailed, f"two-{person.email}")
        assert confirm(http, older).status_code == 400
        assert confirm(http, f"{issuer}/email/confirm?token=forged").status_code == 400
        other = mailed.make.issuer(mailed.make.tenant())
        assert confirm(http, newer.replace(issuer, other)).status_code == 400
        assert confirm(http, newer).status_code == 200


def test_requests_are_throttled_per_account(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    limit = mailed.services.settings.rate_limits.password_resets_per_address
    with signed_in_account(issuer, person.email) as http:
        for number in range(limit):
            assert ask(http, issuer, f"n{number}-{person.email}").status_code == 303
        throttled = ask(http, issuer, f"late-{person.email}")
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        assert "Too many attempts" in throttled.text
    assert mailed.mails_now(f"late-{person.email}") == 0
