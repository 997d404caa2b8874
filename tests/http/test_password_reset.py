"""Password reset over real HTTP with real mail (issue 9 §4): forgot -> mail -> reset; the old
password, the sessions and the tokens of the person are void afterwards; no form tells a
stranger whether an address has an account; links are single use, short-lived and voided by
newer ones; CSRF, throttling, a dead SMTP server, and the admin's trigger from the API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from idp.models.account_links import AccountLink
from idp.models.sessions import LoginSession
from idp.models.users import User
from idp.services.audit import AuditFilter, page_events
from idp.services.management.api_keys import OPERATOR, create_api_key
from tests.http.test_refresh_tokens import TokenClient, offline_client
from tests.support.browser import PASSWORD, Browser, hidden_fields
from tests.support.mail_server import (
    MailedServer,
    mailed,
    mailed_server,
    reset_link,
    text_of,
)

__all__ = ["mailed"]
NEW_PASSWORD = "a brand new passphrase"
CSRF = re.compile(r'name="csrf_token" value="[^"]*"')


def forgot(http: requests.Session, issuer: str, email: str, **extra: str) -> requests.Response:
    page = http.get(f"{issuer}/password/forgot", params=extra)
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text) | {"email": email}
    return http.post(f"{issuer}/password/forgot", data=form, allow_redirects=False)


def reset(http: requests.Session, link: str, password: str = NEW_PASSWORD) -> requests.Response:
    page = http.get(link)
    if page.status_code != 200:
        return page
    form = hidden_fields(page.text) | {"password": password, "password_confirm": password}
    return http.post(link.split("?")[0], data=form, allow_redirects=False)


def sessions_of(mailed: MailedServer, subject: str) -> int:
    with mailed.services.uow() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(LoginSession)
                .join(User, User.id == LoginSession.user_id)
                .where(User.subject == subject)
            )
            or 0
        )


def signs_in(issuer: str, email: str, password: str) -> bool:
    with requests.Session() as http:
        response = Browser(http, issuer).sign_in(f"{issuer}/login", email, password)
        return response.status_code == 200


def test_a_reset_voids_the_old_password_sessions_and_tokens(mailed: MailedServer):
    make = mailed.make
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    with requests.Session() as http:
        client = TokenClient(http, issuer, offline_client(make, tenant))
        tokens = client.sign_in(Browser(http, issuer), person)
        assert client.introspect(tokens["access_token"])["active"] is True
        with requests.Session() as mine:
            sent = forgot(mine, issuer, person.email)
            assert sent.status_code == 200
            [mail] = mailed.mails_to(person.email, 1)
            assert mail["Subject"] == "Reset your password at Test tenant"
            done = reset(mine, reset_link(mail))
            assert done.status_code == 200, done.text
            assert done.headers["Referrer-Policy"] == "no-referrer"
        refreshed = client.refresh(tokens["refresh_token"])
        assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
        assert client.introspect(tokens["access_token"])["active"] is False
        assert sessions_of(mailed, person.subject) == 0
    [_, notice] = mailed.mails_to(person.email, 2)
    assert notice["Subject"] == "Your Test tenant password was changed"
    assert f"{issuer}/password/forgot" in text_of(notice)
    assert not signs_in(issuer, person.email, PASSWORD)
    assert signs_in(issuer, person.email, NEW_PASSWORD)
    events = page_events(
        mailed.services.uow(), tenant.id, False, AuditFilter(action="user.*"), None, 20
    )
    assert {e.action for e in events.items if e.action.startswith("user.password")} == {
        "user.password_reset_requested",
        "user.password_reset",
    }


def test_known_and_unknown_addresses_get_the_same_page(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        known = forgot(http, issuer, person.email)
        unknown = forgot(http, issuer, "nobody-here@example.com")
    assert known.status_code == unknown.status_code == 200
    assert CSRF.sub("", known.text) == CSRF.sub("", unknown.text)
    assert "If an account exists" in known.text
    mailed.mails_to(person.email, 1)
    assert mailed.mails_now("nobody-here@example.com") == 0


def test_replayed_forged_older_and_expired_links_are_refused(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        forgot(http, issuer, person.email)
        older = reset_link(mailed.mails_to(person.email, 1)[0])
        forgot(http, issuer, person.email)
        newer = reset_link(mailed.mails_to(person.email, 2)[1])
        assert "no longer works" in reset(http, older).text
        assert reset(http, older).status_code == 400
        forged = newer[:-4] + ("AAAA" if not newer.endswith("AAAA") else "BBBB")
        assert reset(http, forged).status_code == 400
        assert reset(http, newer).status_code == 200
        replay = http.post(
            newer.split("?")[0],
            data={"token": newer.split("token=")[1], "password": "x" * 12},
        )
        assert replay.status_code == 400 and "no longer works" in replay.text
        mailed.mails_to(person.email, 3)  # the notice of the change
        forgot(http, issuer, person.email)
        expired = reset_link(mailed.mails_to(person.email, 4)[3])
        with mailed.services.uow() as uow:
            uow.session.execute(
                update(AccountLink)
                .where(AccountLink.user_id.is_not(None))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            uow.commit()
        assert reset(http, expired).status_code == 400
    assert signs_in(issuer, person.email, NEW_PASSWORD)


def test_posts_without_the_csrf_token_are_refused(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        refused = http.post(f"{issuer}/password/forgot", data={"email": person.email})
        assert refused.status_code == 400
        forgot(http, issuer, person.email)
        link = reset_link(mailed.mails_to(person.email, 1)[0])
        token = link.split("token=")[1]
        form = {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        assert http.post(link.split("?")[0], data=form).status_code == 400
    assert signs_in(issuer, person.email, PASSWORD)


def test_a_mismatched_or_short_new_password_keeps_the_link(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    with requests.Session() as http:
        forgot(http, issuer, person.email)
        link = reset_link(mailed.mails_to(person.email, 1)[0])
        short = reset(http, link, "short")
        assert short.status_code == 400 and 'href="#password"' in short.text
        for guessable in ("baseball", "Password1", person.email):  # breached, or their own
            refused = reset(http, link, guessable)
            assert refused.status_code == 400 and "too easy to guess" in refused.text
        assert reset(http, link).status_code == 200


def test_the_api_triggers_the_same_mail(mailed: MailedServer):
    tenant = mailed.make.tenant()
    person = mailed.make.user(tenant)
    base = f"{mailed.live.url}/api/v1/tenants/{tenant.slug}/users"
    secret = create_api_key(mailed.services.uow(), OPERATOR, tenant, "admin", None).secret
    headers = {"Authorization": f"Bearer {secret}"}
    sent = requests.post(f"{base}/{person.subject}/password-reset", headers=headers, timeout=10)
    assert (sent.status_code, sent.json()) == (
        202,
        {"id": person.subject, "password_reset": "sent"},
    )
    with requests.Session() as http:
        assert reset(http, reset_link(mailed.mails_to(person.email, 1)[0])).status_code == 200
    unknown = requests.post(f"{base}/nobody/password-reset", headers=headers, timeout=10)
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"].startswith("application/problem+json")
    events = page_events(
        mailed.services.uow(),
        tenant.id,
        False,
        AuditFilter(action="user.password_reset_requested"),
        None,
        10,
    )
    [event] = [e for e in events.items if e.outcome == "success"]
    assert event.target_id == person.subject and event.actor not in ("anonymous", "")


def test_a_dead_mail_server_holds_nobody_up_and_the_mail_goes_out_later(mailed: MailedServer):
    tenant = mailed.make.tenant()
    issuer = mailed.make.issuer(tenant)
    person = mailed.make.user(tenant)
    mailed.smtp.stop()
    try:
        with requests.Session() as http:
            started = time.monotonic()
            assert forgot(http, issuer, person.email).status_code == 200
            assert time.monotonic() - started < 2
        time.sleep(1.5)
        assert mailed.mails_now(person.email) == 0
    finally:
        mailed.smtp.start()
    mailed.mails_to(person.email, 1, timeout=30)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def strict(request, tmp_path_factory) -> Iterator[MailedServer]:
    limits = {"password_resets_per_address": 2, "password_resets_per_ip": 5}
    yield from mailed_server(request, tmp_path_factory, rate_limits=limits)


def test_requests_are_throttled_per_address_known_or_not_and_per_ip(strict: MailedServer):
    tenant = strict.make.tenant()
    issuer = strict.make.issuer(tenant)
    person = strict.make.user(tenant)
    with requests.Session() as http:
        for address in (person.email, "stranger@example.com"):
            assert [forgot(http, issuer, address).status_code for _ in range(3)] == [200, 200, 429]
        # Five requests from this IP within the limit, the sixth refused: the IP limit is reached.
        over = forgot(http, issuer, "third@example.com")
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert "Too many attempts" in over.text
    assert len(strict.mails_to(person.email, 2)) == 2
