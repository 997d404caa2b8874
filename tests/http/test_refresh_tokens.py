"""Refresh tokens over real HTTP (RFC 6749 §6, RFC 9700 §4.14, OIDC Core §12): issued only when
asked for, rotated on every use, a spent token replayed revokes its family, a retry within the
grace window gets the same successor, lifetimes, scope narrowing, isolation, revocation and
introspection. Every refusal is the exact RFC 6749 error, never a 500."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select, update

from idp.crypto.secrets import digest
from idp.models.refresh_tokens import RefreshToken
from idp.models.tenants import Tenant
from idp.models.usage import UsageCount
from idp.services.accounts import users as user_service
from idp.services.accounts.users import UserView
from idp.services.audit import AuditFilter, page_events
from idp.services.container import Services
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from idp.services.tenancy.usage import TOKENS_ISSUED
from idp.services.tokens.refresh_tokens import REUSE_DETECTED
from tests.support.browser import PASSWORD, REDIRECT, Browser, code_request, pkce_pair
from tests.support.factories import Factory

OFFLINE = "openid profile offline_access"


@dataclass
class TokenClient:
    """A relying party of one tenant: signs a person in through the browser and calls the
    token, introspection and revocation endpoints with its own credentials."""

    http: requests.Session
    issuer: str
    issued: IssuedClient

    @property
    def client_id(self) -> str:
        return self.issued.client.client_id

    def post(self, path: str, **data: str) -> requests.Response:
        if self.issued.secret:
            return self.http.post(
                f"{self.issuer}/{path}", data=data, auth=(self.client_id, self.issued.secret)
            )
        return self.http.post(f"{self.issuer}/{path}", data=data | {"client_id": self.client_id})

    def redeem(self, code: str, verifier: str) -> requests.Response:
        return self.post(
            "token",
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT,
            code_verifier=verifier,
        )

    def sign_in(self, browser: Browser, person: UserView, scope: str = OFFLINE) -> dict[str, Any]:
        """The token response of a fresh code flow, asserted successful."""
        verifier, challenge = pkce_pair()
        result = browser.run(
            person.email, PASSWORD, **code_request(self.client_id, challenge, scope=scope)
        )
        response = self.redeem(result["code"], verifier)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def refresh(self, refresh_token: str, **extra: str) -> requests.Response:
        return self.post("token", grant_type="refresh_token", refresh_token=refresh_token, **extra)

    def refreshed(self, refresh_token: str, **extra: str) -> dict[str, Any]:
        response = self.refresh(refresh_token, **extra)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def introspect(self, token: str) -> dict[str, Any]:
        response = self.post("introspect", token=token)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def revoke(self, token: str, **extra: str) -> requests.Response:
        return self.post("revoke", token=token, **extra)


def offline_client(make: Factory, tenant: TenantView, **spec: Any) -> IssuedClient:
    spec.setdefault("grant_types", ("authorization_code", "refresh_token"))
    spec.setdefault("scopes", ("openid", "profile", "email", "offline_access"))
    return make.client(tenant, redirect_uris=(REDIRECT,), **spec)


@pytest.fixture
def token_client(http, make, module_tenant) -> TokenClient:
    return TokenClient(http, make.issuer(module_tenant), offline_client(make, module_tenant))


@pytest.fixture
def no_grace(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every replay of a spent token counts as theft at once: no waiting out the window."""
    settings = services.settings.replace(tokens={"refresh_token_reuse_grace_seconds": 0})
    monkeypatch.setattr(services, "settings", settings)


def set_lifetimes(services: Services, tenant: TenantView, idle: int, absolute: int) -> None:
    """Shorter than the API allows (300 s at least), so expiry can be seen in a test."""
    with services.uow() as uow:
        uow.session.execute(
            update(Tenant)
            .where(Tenant.id == tenant.id)
            .values(refresh_token_idle_lifetime=idle, refresh_token_absolute_lifetime=absolute)
        )
        uow.commit()
    services.tenant_cache.forget(tenant.slug)


def family_size(services: Services, refresh_token_digest_of: str) -> int:
    with services.uow() as uow:
        family = select(RefreshToken.family_id).where(
            RefreshToken.token_digest == refresh_token_digest_of
        )
        return int(
            uow.session.scalar(
                select(func.count()).where(RefreshToken.family_id == family.scalar_subquery())
            )
            or 0
        )


def test_discovery_advertises_the_grant_and_offline_access(http, make, module_tenant):
    metadata = http.get(f"{make.issuer(module_tenant)}/.well-known/openid-configuration").json()
    assert "refresh_token" in metadata["grant_types_supported"]
    assert "offline_access" in metadata["scopes_supported"]


def test_refresh_token_only_with_offline_access_or_the_clients_policy(
    browser, http, make, module_tenant, person
):
    issuer = make.issuer(module_tenant)
    client = TokenClient(http, issuer, offline_client(make, module_tenant))
    assert "refresh_token" not in client.sign_in(browser, person, scope="openid profile")
    assert client.sign_in(browser, person)["refresh_token"].startswith("idp_rt_")

    policy = offline_client(make, module_tenant, always_issue_refresh_token=True)
    assert "refresh_token" in TokenClient(http, issuer, policy).sign_in(browser, person, "openid")

    # Not registered for the grant: no refresh token, whatever the scope.
    without = offline_client(make, module_tenant, grant_types=("authorization_code",))
    assert "refresh_token" not in TokenClient(http, issuer, without).sign_in(browser, person)


@pytest.mark.in_process
def test_each_use_rotates_and_the_spent_token_is_refused(
    browser, token_client, person, rfc_error, no_grace
):
    first = token_client.sign_in(browser, person)
    second = token_client.refreshed(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (second["token_type"], second["scope"]) == ("Bearer", OFFLINE)
    assert rfc_error(token_client.refresh(first["refresh_token"])) == (400, "invalid_grant")


@pytest.mark.in_process
def test_replaying_a_spent_token_revokes_the_family_and_is_audited(
    browser, token_client, person, rfc_error, no_grace, services, module_tenant
):
    first = token_client.sign_in(browser, person)
    second = token_client.refreshed(first["refresh_token"])
    assert token_client.introspect(second["access_token"])["active"] is True

    assert rfc_error(token_client.refresh(first["refresh_token"])) == (400, "invalid_grant")
    # The thief or the rightful client: nobody can tell, so the current token dies too.
    assert rfc_error(token_client.refresh(second["refresh_token"])) == (400, "invalid_grant")
    assert token_client.introspect(second["access_token"]) == {"active": False}
    assert token_client.introspect(first["access_token"]) == {"active": False}

    events = page_events(
        services.uow(),
        module_tenant.id,
        False,
        AuditFilter(action=REUSE_DETECTED, target_id=person.subject),
        None,
        10,
    ).items
    assert len(events) == 1
    assert events[0].actor == f"client:{token_client.client_id}"
    assert events[0].outcome == "denied"
    assert first["refresh_token"] not in str(events[0].public_dict())


@pytest.mark.in_process
def test_replay_after_the_grace_window_revokes_the_family(
    browser, token_client, person, rfc_error, services, monkeypatch
):
    settings = services.settings.replace(tokens={"refresh_token_reuse_grace_seconds": 1})
    monkeypatch.setattr(services, "settings", settings)
    first = token_client.sign_in(browser, person)
    second = token_client.refreshed(first["refresh_token"])
    time.sleep(1.3)
    assert rfc_error(token_client.refresh(first["refresh_token"])) == (400, "invalid_grant")
    assert rfc_error(token_client.refresh(second["refresh_token"])) == (400, "invalid_grant")


def test_a_retry_within_the_grace_window_gets_the_same_successor(
    browser, token_client, person, rfc_error
):
    first = token_client.sign_in(browser, person)
    second = token_client.refreshed(first["refresh_token"])
    retried = token_client.refreshed(first["refresh_token"])  # the first answer was "lost"
    assert retried == second

    third = token_client.refreshed(second["refresh_token"])
    # Once the successor is used, an older copy can only be someone else's: theft.
    assert rfc_error(token_client.refresh(first["refresh_token"])) == (400, "invalid_grant")
    assert rfc_error(token_client.refresh(third["refresh_token"])) == (400, "invalid_grant")


def test_concurrent_refreshes_of_one_token_do_not_fork_the_family(
    browser, token_client, person, services
):
    first = token_client.sign_in(browser, person)
    racers = 8
    start = threading.Barrier(racers)
    responses: list[requests.Response] = []

    def refresh() -> None:
        with requests.Session() as session:
            racer = TokenClient(session, token_client.issuer, token_client.issued)
            start.wait()
            responses.append(racer.refresh(first["refresh_token"]))

    threads = [threading.Thread(target=refresh) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {response.status_code for response in responses} == {200}, [r.text for r in responses]
    successors = {response.json()["refresh_token"] for response in responses}
    assert len(successors) == 1
    assert family_size(services, digest(first["refresh_token"])) == 2
    assert token_client.refresh(successors.pop()).status_code == 200


def test_an_unused_token_expires_after_the_idle_lifetime(http, make, services, rfc_error):
    tenant = make.tenant()
    set_lifetimes(services, tenant, idle=1, absolute=3600)
    client = TokenClient(http, make.issuer(tenant), offline_client(make, tenant))
    person = make.user(tenant, password=PASSWORD)
    first = client.sign_in(Browser(http, client.issuer), person)
    time.sleep(1.3)
    assert rfc_error(client.refresh(first["refresh_token"])) == (400, "invalid_grant")


def test_rotation_never_extends_the_absolute_lifetime(http, make, services, rfc_error):
    tenant = make.tenant()
    set_lifetimes(services, tenant, idle=2, absolute=2)
    client = TokenClient(http, make.issuer(tenant), offline_client(make, tenant))
    person = make.user(tenant, password=PASSWORD)
    first = client.sign_in(Browser(http, client.issuer), person)
    born = time.time()
    time.sleep(0.8)
    second = client.refreshed(first["refresh_token"])
    # Idle alone would let it live 2 s from now; the family ends 2 s after its first token.
    assert client.introspect(second["refresh_token"])["exp"] <= born + 2
    time.sleep(max(0.0, born + 2.3 - time.time()))
    assert rfc_error(client.refresh(second["refresh_token"])) == (400, "invalid_grant")


def test_scope_may_be_narrowed_but_not_widened(browser, token_client, person, rfc_error):
    first = token_client.sign_in(browser, person)
    widened = token_client.refresh(first["refresh_token"], scope="openid email")
    assert rfc_error(widened) == (400, "invalid_scope")
    malformed = token_client.refresh(first["refresh_token"], scope='openid "x"')
    assert rfc_error(malformed) == (400, "invalid_scope")

    # The refused requests did not spend the token.
    narrowed = token_client.refreshed(first["refresh_token"], scope="profile")
    assert narrowed["scope"] == "profile"
    assert "id_token" not in narrowed
    assert token_client.introspect(narrowed["access_token"])["scope"] == "profile"
    # RFC 6749 §6: the new refresh token keeps the original grant.
    assert token_client.introspect(narrowed["refresh_token"])["scope"] == OFFLINE
    assert token_client.refreshed(narrowed["refresh_token"])["scope"] == OFFLINE


def test_another_clients_refresh_token_is_invalid_grant(
    browser, token_client, person, make, module_tenant, rfc_error
):
    first = token_client.sign_in(browser, person)
    other = TokenClient(token_client.http, token_client.issuer, offline_client(make, module_tenant))
    assert rfc_error(other.refresh(first["refresh_token"])) == (400, "invalid_grant")
    assert token_client.refresh(first["refresh_token"]).status_code == 200  # not burnt


def test_a_token_of_tenant_a_is_invalid_grant_at_tenant_b(
    browser, token_client, person, make, http, rfc_error
):
    first = token_client.sign_in(browser, person)
    b = make.tenant()
    at_b = TokenClient(http, make.issuer(b), offline_client(make, b))
    assert rfc_error(at_b.refresh(first["refresh_token"])) == (400, "invalid_grant")
    assert at_b.introspect(first["refresh_token"]) == {"active": False}
    assert at_b.revoke(first["refresh_token"]).status_code == 200
    assert token_client.refresh(first["refresh_token"]).status_code == 200


def test_public_client_refreshes_with_its_client_id(
    browser, http, make, module_tenant, person, rfc_error
):
    public = offline_client(make, module_tenant, public=True)
    client = TokenClient(http, make.issuer(module_tenant), public)
    first = client.sign_in(browser, person)
    second = client.refreshed(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    anonymous = http.post(
        f"{client.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
    )
    assert rfc_error(anonymous) == (401, "invalid_client")


def test_refreshed_id_token_keeps_subject_and_auth_time(
    browser, token_client, person, http, rfc_error
):
    first = token_client.sign_in(browser, person)
    metadata = http.get(f"{token_client.issuer}/.well-known/openid-configuration").json()
    keys = KeySet.import_key_set(http.get(metadata["jwks_uri"]).json())
    original = jwt.decode(first["id_token"], keys, algorithms=["RS256"]).claims
    time.sleep(1.1)  # so a new auth_time would show
    second = token_client.refreshed(first["refresh_token"])
    claims = jwt.decode(second["id_token"], keys, algorithms=["RS256"]).claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": token_client.issuer},
        aud={"essential": True, "value": token_client.client_id},
        sub={"essential": True, "value": person.subject},
    ).validate(claims)
    assert claims["auth_time"] == original["auth_time"]
    assert claims["sid"] == original["sid"]
    assert claims["iat"] > original["iat"]
    assert "nonce" not in claims  # OIDC Core §12.2


def test_revoking_a_refresh_token_revokes_its_family(browser, token_client, person, rfc_error):
    first = token_client.sign_in(browser, person)
    second = token_client.refreshed(first["refresh_token"])
    response = token_client.revoke(second["refresh_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert rfc_error(token_client.refresh(second["refresh_token"])) == (400, "invalid_grant")
    assert token_client.introspect(second["access_token"]) == {"active": False}
    assert token_client.introspect(second["refresh_token"]) == {"active": False}
    assert token_client.revoke(second["refresh_token"]).status_code == 200  # idempotent


def test_only_the_owner_revokes_a_refresh_token(
    browser, token_client, person, make, module_tenant, rfc_error
):
    first = token_client.sign_in(browser, person)
    for spec in ({}, {"is_resource_server": True}):
        stranger = TokenClient(
            token_client.http, token_client.issuer, make.client(module_tenant, **spec)
        )
        assert rfc_error(stranger.revoke(first["refresh_token"])) == (400, "invalid_grant")
    assert token_client.refresh(first["refresh_token"]).status_code == 200


def test_introspection_of_refresh_tokens(
    browser, token_client, person, make, module_tenant, no_grace
):
    first = token_client.sign_in(browser, person)
    answer = token_client.introspect(first["refresh_token"])
    assert answer["active"] is True
    assert answer["token_type"] == "refresh_token"
    assert (answer["client_id"], answer["sub"], answer["scope"]) == (
        token_client.client_id,
        person.subject,
        OFFLINE,
    )
    assert answer["exp"] > time.time()

    issuer, http = token_client.issuer, token_client.http
    stranger = TokenClient(http, issuer, make.client(module_tenant))
    assert stranger.introspect(first["refresh_token"]) == {"active": False}
    resource_server = TokenClient(http, issuer, make.client(module_tenant, is_resource_server=True))
    assert resource_server.introspect(first["refresh_token"])["active"] is True

    token_client.refreshed(first["refresh_token"])
    assert token_client.introspect(first["refresh_token"]) == {"active": False}  # spent
    assert token_client.introspect("idp_rt_" + "x" * 43) == {"active": False}


def test_a_deactivated_person_cannot_refresh(
    browser, token_client, make, module_tenant, services, rfc_error
):
    person = make.user(module_tenant, password=PASSWORD)
    first = token_client.sign_in(browser, person)
    user_service.update_user(services.uow(), module_tenant, person.subject, {"active": False})
    assert rfc_error(token_client.refresh(first["refresh_token"])) == (400, "invalid_grant")
    assert token_client.introspect(first["refresh_token"]) == {"active": False}


def test_signing_a_person_out_everywhere_revokes_their_families(
    browser, token_client, make, module_tenant, services, rfc_error
):
    person = make.user(module_tenant, password=PASSWORD)
    first = token_client.sign_in(browser, person)
    user_service.sign_out_everywhere(
        services.uow(),
        services.revocations,
        services.backchannel,
        token_client.issuer,
        module_tenant,
        person.subject,
        services.settings.tokens,
    )
    assert rfc_error(token_client.refresh(first["refresh_token"])) == (400, "invalid_grant")


def test_a_replayed_code_revokes_the_family_issued_from_it(
    browser, token_client, person, rfc_error
):
    verifier, challenge = pkce_pair()
    result = browser.run(
        person.email, PASSWORD, **code_request(token_client.client_id, challenge, scope=OFFLINE)
    )
    first = token_client.redeem(result["code"], verifier)
    assert first.status_code == 200, first.text
    assert rfc_error(token_client.redeem(result["code"], verifier)) == (400, "invalid_grant")
    assert rfc_error(token_client.refresh(first.json()["refresh_token"])) == (
        400,
        "invalid_grant",
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, (400, "invalid_request")),
        ({"refresh_token": "not-ours"}, (400, "invalid_grant")),
        ({"refresh_token": "idp_rt_" + "A" * 43}, (400, "invalid_grant")),
        ({"refresh_token": "idp_rt_" + "A" * 500}, (400, "invalid_grant")),
    ],
)
def test_malformed_refresh_requests(token_client, rfc_error, data, expected):
    response = token_client.post("token", grant_type="refresh_token", **data)
    assert rfc_error(response) == expected


def test_a_client_not_registered_for_the_grant_is_unauthorized(
    browser, http, make, module_tenant, person, rfc_error
):
    issuer = make.issuer(module_tenant)
    allowed = TokenClient(http, issuer, offline_client(make, module_tenant))
    first = allowed.sign_in(browser, person)
    code_only = TokenClient(http, issuer, make.client(module_tenant))
    assert rfc_error(code_only.refresh(first["refresh_token"])) == (400, "unauthorized_client")


@pytest.mark.in_process
def test_refresh_responses_are_counted_as_tokens_issued(
    browser, token_client, person, services, module_tenant
):
    first = token_client.sign_in(browser, person)
    before = _issued_today(services, module_tenant, token_client.client_id)
    token_client.refreshed(first["refresh_token"])
    assert _issued_today(services, module_tenant, token_client.client_id) == before + 1


def _issued_today(services: Services, tenant: TenantView, client_id: str) -> int:
    services.usage.flush()
    with services.uow() as uow:
        count = uow.session.scalar(
            select(UsageCount.count).where(
                UsageCount.tenant_id == tenant.id,
                UsageCount.client_id == client_id,
                UsageCount.metric == TOKENS_ISSUED,
                UsageCount.day == datetime.now(UTC).date(),
            )
        )
        return int(count or 0)
