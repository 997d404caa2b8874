"""E-mail verification over real HTTP with real mail (issue 9 §3): the mailed link confirms the
address once, with a button (a GET spends nothing), and lasts 24 hours; replayed, forged, older,
expired links and links for an address the account no longer has are refused; a new link is
asked for with the same answer for every address, throttled; and a tenant may refuse sign-in
until the address is confirmed, saying so only to someone who knows the password."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import update

from idp.models.account_links import AccountLink
from idp.models.users import User
from tests.http.test_password_reset import CSRF, signs_in
from tests.http.test_registration import confirm, open_tenant, sign_up
from tests.support.browser import PASSWORD, Browser, hidden_fields
from tests.support.mail_server import MailedServer, mailed, mailed_server, verify_link

__all__ = ["mailed"]


def verified(mailed: MailedServer, tenant_id: int, email: str) -> bool:
    with mailed.services.uow() as uow:
        user = uow.users.by_email(tenant_id, email)
        assert user is not None
        return user.email_verified


def resend(http: requests.Session, issuer: str, email: str) -> requests.Response:
    page = http.get(f"{issuer}/email/verify/resend")
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text) | {"email": email}
    return http.post(f"{issuer}/email/verify/resend", data=form, allow_redirects=False)


def test_opening_the_link_spends_nothing_until_the_button_is_pressed(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        sign_up(http, issuer, "scanned@example.com")
        link = verify_link(mailed.mails_to("scanned@example.com", 1)[0])
        for _ in range(2):  # a mail scanner, then the person
            assert http.get(link).status_code == 200
        assert not verified(mailed, tenant.id, "scanned@example.com")
        assert confirm(http, link).status_code == 303
    assert verified(mailed, tenant.id, "scanned@example.com")


def test_replayed_forged_older_and_expired_links_are_refused(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    email = "links@example.com"
    with requests.Session() as http:
        sign_up(http, issuer, email)
        older = verify_link(mailed.mails_to(email, 1)[0])
        assert resend(http, issuer, email).status_code == 200
        newer = verify_link(mailed.mails_to(email, 2)[1])
        gone = confirm(http, older)
        assert gone.status_code == 400 and "no longer works" in gone.text
        forged = newer[:-4] + ("AAAA" if not newer.endswith("AAAA") else "BBBB")
        assert confirm(http, forged).status_code == 400
        assert not verified(mailed, tenant.id, email)
        assert confirm(http, newer).status_code == 303
        replay = http.post(
            f"{issuer}/email/verify",
            data=hidden_fields(http.get(f"{issuer}/login").text)
            | {"token": newer.split("token=")[1]},
        )
        assert replay.status_code == 400 and "no longer works" in replay.text
    assert verified(mailed, tenant.id, email)
    other = "expiring@example.com"
    with requests.Session() as http:
        sign_up(http, issuer, other)
        expired = verify_link(mailed.mails_to(other, 1)[0])
        with mailed.services.uow() as uow:
            uow.session.execute(
                update(AccountLink).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            uow.commit()
        assert confirm(http, expired).status_code == 400
    assert not verified(mailed, tenant.id, other)


def test_a_link_for_an_address_the_account_no_longer_has_confirms_nothing(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        sign_up(http, issuer, "old@example.com")
        link = verify_link(mailed.mails_to("old@example.com", 1)[0])
        with mailed.services.uow() as uow:
            uow.session.execute(
                update(User).where(User.email == "old@example.com").values(email="new@example.com")
            )
            uow.commit()
        page = http.get(link)
        assert page.status_code == 200
        refused = http.post(link.split("?")[0], data=hidden_fields(page.text))
        assert refused.status_code == 400
    assert not verified(mailed, tenant.id, "new@example.com")


def test_a_new_link_is_the_same_answer_for_every_address(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    done = mailed.make.user(tenant, email="done@example.com")
    with requests.Session() as http:
        sign_up(http, issuer, "waiting@example.com")
        mailed.mails_to("waiting@example.com", 1)
        with mailed.services.uow() as uow:
            row = uow.users.by_email(tenant.id, done.email)
            assert row is not None
            row.email_verified = True
            uow.commit()
        answers = [
            resend(http, issuer, address)
            for address in ("waiting@example.com", done.email, "nobody@example.com")
        ]
    assert {answer.status_code for answer in answers} == {200}
    assert len({CSRF.sub("", answer.text) for answer in answers}) == 1
    verify_link(mailed.mails_to("waiting@example.com", 2)[1])
    assert mailed.mails_now(done.email) == 0 and mailed.mails_now("nobody@example.com") == 0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def strict(request, tmp_path_factory) -> Iterator[MailedServer]:
    limits = {"verification_mails_per_address": 2, "verification_mails_per_ip": 5}
    yield from mailed_server(request, tmp_path_factory, rate_limits=limits)


def test_new_links_are_throttled_per_address_and_per_ip(strict: MailedServer):
    tenant = open_tenant(strict)
    issuer = strict.make.issuer(tenant)
    with requests.Session() as http:
        for address in ("a@example.com", "b@example.com"):
            assert [resend(http, issuer, address).status_code for _ in range(3)] == [200, 200, 429]
        over = resend(http, issuer, "c@example.com")
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0


def test_an_unverified_address_may_not_sign_in_when_the_tenant_says_so(mailed: MailedServer):
    tenant = open_tenant(mailed, unverified_sign_in=False)
    issuer = mailed.make.issuer(tenant)
    email = "careful@example.com"
    with requests.Session() as http:
        sign_up(http, issuer, email)
        mailed.mails_to(email, 1)
        browser = Browser(http, issuer)
        wrong = browser.sign_in(f"{issuer}/login", email, "not the password")
        assert wrong.status_code == 401 and "confirm" not in wrong.text.lower()
        refused = browser.sign_in(f"{issuer}/login", email, PASSWORD)
        assert refused.status_code == 403
        assert "Please confirm your e-mail address first" in refused.text
        # The page offers a new link for this address: its own form, posted as it is.
        forms = refused.text.split("<form")
        [offer] = [form for form in forms if "/email/verify/resend" in form]
        assert http.post(f"{issuer}/email/verify/resend", data=hidden_fields(offer)).ok
        link = verify_link(mailed.mails_to(email, 2)[1])
        assert not [cookie for cookie in http.cookies if "idp_session" in cookie.name]
        assert confirm(http, link).status_code == 303
    assert signs_in(issuer, email, PASSWORD)


def test_by_default_an_unverified_address_signs_in(mailed: MailedServer):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        sign_up(http, issuer, "eager@example.com")
    assert signs_in(issuer, "eager@example.com", PASSWORD)
    assert not verified(mailed, tenant.id, "eager@example.com")


def test_a_confirmation_without_the_csrf_token_is_refused_and_spends_nothing(
    mailed: MailedServer,
):
    tenant = open_tenant(mailed)
    issuer = mailed.make.issuer(tenant)
    with requests.Session() as http:
        sign_up(http, issuer, "forged-post@example.com")
        link = verify_link(mailed.mails_to("forged-post@example.com", 1)[0])
        refused = http.post(f"{issuer}/email/verify", data={"token": link.split("token=")[1]})
        assert refused.status_code == 400 and "This form has expired" in refused.text
        assert not verified(mailed, tenant.id, "forged-post@example.com")
        assert confirm(http, link).status_code == 303
    assert verified(mailed, tenant.id, "forged-post@example.com")
