"""Sessions, connected apps and deletion on the account page (issue 9 §6): ending a session
ends it for real (cookie dead, clients told, its refresh tokens revoked), revoking an app
removes its consent and tokens, and deletion happens only where the tenant allows it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, update

from idp.models.sessions import Consent, LoginSession
from idp.services.audit import AuditFilter, page_events
from idp.services.container import Services
from tests.http.test_password_reset import signs_in
from tests.http.test_refresh_tokens import TokenClient, offline_client
from tests.support.account import post_form, set_tenant_columns, signed_in_account
from tests.support.browser import PASSWORD, Browser
from tests.support.factories import Factory
from tests.support.logout import unverified_claims
from tests.support.logout_receiver import LogoutReceiver

SID = re.compile(r'name="sid" value="([^"]+)"')


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    running = LogoutReceiver()
    yield running
    running.stop()


def listening_client(make: Factory, tenant: Any, receiver: LogoutReceiver) -> Any:
    return offline_client(
        make, tenant, backchannel_logout_uri=f"{receiver.url}/rp", always_issue_refresh_token=True
    )


def sids_on(http: requests.Session, issuer: str) -> list[str]:
    """The sessions the page lists, this browser's first."""
    return SID.findall(http.get(f"{issuer}/account").text)


def test_ending_another_session_kills_its_cookie_and_tokens(
    make: Factory, receiver: LogoutReceiver
):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    client = listening_client(make, tenant, receiver)
    with (
        signed_in_account(issuer, person.email) as other,
        signed_in_account(issuer, person.email) as mine,
    ):
        # The other browser's app holds a refresh token bound to that session.
        tokens = TokenClient(other, issuer, client).sign_in(
            Browser(other, issuer), person, scope="openid profile"
        )
        page = mine.get(f"{issuer}/account").text
        assert page.count("This browser") == 1 and "127.0.0.1" in page
        assert "Python requests" in page
        this, that = sids_on(mine, issuer)
        ended = post_form(mine, issuer, "/account/sessions/end", sid=that)
        assert (ended.status_code, ended.headers["Location"]) == (
            303,
            f"{issuer}/account?done=session",
        )
        assert sids_on(mine, issuer) == [this]
        assert other.get(f"{issuer}/account", allow_redirects=False).status_code == 303
        (delivery,) = receiver.wait_for("/rp")
        assert unverified_claims(delivery.logout_token)["sid"] == that
        refreshed = TokenClient(other, issuer, client).refresh(tokens["refresh_token"])
        assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
        # Another person's session id names nothing of mine: nothing happens.
        assert post_form(mine, issuer, "/account/sessions/end", sid="x" * 40).status_code == 303
        assert mine.get(f"{issuer}/account", allow_redirects=False).status_code == 200


def test_ending_all_others_keeps_this_browser(make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    others = [signed_in_account(issuer, person.email) for _ in range(2)]
    with signed_in_account(issuer, person.email) as mine:
        assert len(sids_on(mine, issuer)) == 3
        ended = post_form(mine, issuer, "/account/sessions/end", all_others="on")
        assert ended.headers["Location"] == f"{issuer}/account?done=sessions"
        assert len(sids_on(mine, issuer)) == 1
        for other in others:
            assert other.get(f"{issuer}/account", allow_redirects=False).status_code == 303
            other.close()


def test_revoking_an_app_removes_its_consent_and_refresh_tokens(make: Factory, services: Services):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    issued = offline_client(make, tenant, name="Photo Printer")
    with signed_in_account(issuer, person.email) as http:
        client = TokenClient(http, issuer, issued)
        tokens = client.sign_in(Browser(http, issuer), person)
        page = http.get(f"{issuer}/account").text
        assert "Photo Printer" in page and "Keep access while you are not using it" in page
        revoked = post_form(http, issuer, "/account/apps/revoke", client_id=issued.client.client_id)
        assert revoked.headers["Location"] == f"{issuer}/account?done=app"
        assert "Photo Printer" not in http.get(f"{issuer}/account").text
        refreshed = client.refresh(tokens["refresh_token"])
        assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
        assert client.introspect(tokens["access_token"])["active"] is False
    with services.uow() as uow:
        assert (
            uow.session.scalar(
                select(func.count()).select_from(Consent).where(Consent.tenant_id == tenant.id)
            )
            == 0
        )


def test_deletion_is_refused_where_the_tenant_does_not_allow_it(make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    with signed_in_account(issuer, person.email) as http:
        assert "/account/delete" not in http.get(f"{issuer}/account").text
        assert http.get(f"{issuer}/account/delete").status_code == 403
        refused = post_form(http, issuer, "/account/delete", password=PASSWORD)
        assert refused.status_code == 403 and "cannot be deleted" in refused.text
    assert signs_in(issuer, person.email, PASSWORD)


def test_deletion_ends_everything_and_says_goodbye(
    make: Factory, services: Services, receiver: LogoutReceiver
):
    tenant = make.tenant()
    set_tenant_columns(services, tenant, account_deletion=True)
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    issued = listening_client(make, tenant, receiver)
    with signed_in_account(issuer, person.email) as http:
        client = TokenClient(http, issuer, issued)
        tokens = client.sign_in(Browser(http, issuer), person)
        assert "/account/delete" in http.get(f"{issuer}/account").text
        page = http.get(f"{issuer}/account/delete")
        assert page.status_code == 200
        wrong = http.post(
            f"{issuer}/account/delete",
            data={
                "csrf_token": re.search(r'csrf_token" value="([^"]+)', page.text).group(1),
                "password": "not my password",
            },
        )
        assert wrong.status_code == 400 and 'href="#password"' in wrong.text
        gone = http.post(
            f"{issuer}/account/delete",
            data={
                "csrf_token": re.search(r'csrf_token" value="([^"]+)', page.text).group(1),
                "password": PASSWORD,
            },
        )
        assert gone.status_code == 200 and "Goodbye" in gone.text
        receiver.wait_for("/rp")
        refreshed = client.refresh(tokens["refresh_token"])
        assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
        assert client.introspect(tokens["access_token"])["active"] is False
        assert http.get(f"{issuer}/account", allow_redirects=False).status_code == 303
    assert not signs_in(issuer, person.email, PASSWORD)
    with services.uow() as uow:
        assert uow.users.by_subject(tenant.id, person.subject) is None
    events = page_events(services.uow(), tenant.id, False, AuditFilter(action="user.*"), None, 50)
    assert "user.delete" in {event.action for event in events.items}


def test_a_session_in_use_is_seen_again_at_most_once_a_minute(make: Factory, services: Services):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    with signed_in_account(issuer, person.email) as http:
        with services.uow() as uow:
            uow.session.execute(
                update(LoginSession)
                .where(LoginSession.tenant_id == tenant.id)
                .values(last_seen_at=long_ago)
            )
            uow.commit()
        assert long_ago.strftime("%Y-%m-%d %H:%M UTC") not in http.get(f"{issuer}/account").text
        with services.uow() as uow:
            [seen] = uow.session.scalars(
                select(LoginSession.last_seen_at).where(LoginSession.tenant_id == tenant.id)
            )
        assert datetime.now(UTC) - seen < timedelta(minutes=1)
