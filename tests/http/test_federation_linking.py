"""The linking rules (services/federation/linking.py) against the real database, both backends:
the takeover cases of issue 11 §3, automatic linking, proof then confirm, unlink, isolation.

Upstream identities here are what an adapter returns after every check passed
(federation/base.py UpstreamIdentity); the end-to-end flows through real upstreams are in
test_federation_flow.py."""

from __future__ import annotations

import html
import re
import secrets

import pytest
import requests

from idp.federation.base import UpstreamIdentity
from idp.services.audit import AuditFilter, page_events
from idp.services.container import Services
from idp.services.federation import linking
from idp.services.federation.linking import (
    FederationRefused,
    IdentityTaken,
    LastWayIn,
    LinkProofNeeded,
    link_identity,
    list_identities,
    resolve_upstream_sign_in,
    unlink_identity,
)
from idp.services.tenancy import providers as provider_service
from idp.services.tenancy import tenant_settings
from idp.services.tenancy.providers import ProviderView
from idp.services.tenancy.tenants import TenantView, get_tenant
from tests.support.account import csrf_of, signed_in_account
from tests.support.browser import PASSWORD, REDIRECT, Browser
from tests.support.factories import Factory
from tests.support.federation import (
    Scene,
    federated_scene,
    login_message,
    post_form,
    walk,
)
from tests.support.upstream_idp import UpstreamIdp

GOOGLE = "https://accounts.google.test"
UNLINK = re.compile(r'action="http://[^/]+(/t/[^"]+/unlink)"')
REFRESH = re.compile(r'content="0;url=([^"]+)"')
LOGIN_LINK = re.compile(r'<a href="([^"]+/login[^"]*)">Sign in another way</a>')
OTHER = "https://login.other.test"


def _provider(services: Services, tenant: TenantView, slug: str, issuer: str) -> ProviderView:
    return provider_service.create_provider(
        services.uow(),
        services.kek,
        tenant,
        {"kind": "oidc", "slug": slug, "client_id": "rp", "issuer": issuer},
    )


def _identity(issuer: str, email: str | None, verified: bool, **claims: str) -> UpstreamIdentity:
    return UpstreamIdentity(
        issuer=issuer,
        subject=claims.pop("subject", secrets.token_hex(6)),
        email=email,
        email_verified=verified,
        **claims,
    )


def _open_tenant(services: Services, make: Factory, **policies: object) -> TenantView:
    tenant = make.tenant()
    tenant_settings.update_settings(
        services.uow(),
        tenant.slug,
        {},
        {"self_registration": True, **policies},
        services.settings.tokens,
    )
    return get_tenant(services.uow(), tenant.slug)


def _verified_user(services: Services, make: Factory, tenant: TenantView, verified: bool):  # type: ignore[no-untyped-def]
    user = make.user(tenant)
    with services.uow() as uow:
        row = uow.users.by_subject(tenant.id, user.subject)
        assert row is not None
        row.email_verified = verified
        uow.commit()
        return row.id, user


@pytest.fixture
def setup(services: Services, make: Factory):  # type: ignore[no-untyped-def]
    tenant = _open_tenant(services, make)
    return tenant, _provider(services, tenant, "upstream", GOOGLE)


def test_new_identity_creates_an_account_just_in_time(services: Services, setup) -> None:  # type: ignore[no-untyped-def]
    tenant, provider = setup
    identity = _identity(GOOGLE, "Newcomer@Example.com", True, name="Ada Lovelace")
    first = resolve_upstream_sign_in(services.uow(), tenant, provider, identity)
    assert (first.created, first.linked_now) == (True, True)
    with services.uow() as uow:
        user = uow.users.by_subject(tenant.id, first.subject)
        assert user is not None
        assert (user.email, user.email_verified, user.password_hash) == (
            "newcomer@example.com",
            True,
            None,
        )
        assert (user.given_name, user.family_name) == ("Ada", "Lovelace")
    again = resolve_upstream_sign_in(services.uow(), tenant, provider, identity)
    assert (again.user_id, again.created, again.linked_now) == (first.user_id, False, False)


def test_an_unverified_upstream_address_makes_no_account(services: Services, setup) -> None:  # type: ignore[no-untyped-def]
    """Otherwise the mailbox's owner, after a password reset, would hold an account the
    upstream identity still signs in to (pre-account takeover)."""
    tenant, provider = setup
    with pytest.raises(FederationRefused) as refused:
        resolve_upstream_sign_in(
            services.uow(), tenant, provider, _identity(GOOGLE, "maybe@example.com", False)
        )
    assert refused.value.reason == linking.EMAIL_UNVERIFIED
    with services.uow() as uow:
        assert uow.users.by_email(tenant.id, "maybe@example.com") is None
    signed = resolve_upstream_sign_in(
        services.uow(), tenant, provider, _identity(GOOGLE, "sure@example.com", True)
    )
    assert signed.created


def test_registration_closed_refuses_newcomers(services: Services, make: Factory) -> None:
    tenant = make.tenant()
    provider = _provider(services, tenant, "upstream", GOOGLE)
    with pytest.raises(FederationRefused) as refused:
        resolve_upstream_sign_in(
            services.uow(), tenant, provider, _identity(GOOGLE, "new@example.com", True)
        )
    assert refused.value.reason == linking.REGISTRATION_CLOSED
    signed = resolve_upstream_sign_in(
        services.uow(),
        tenant,
        provider,
        _identity(GOOGLE, "new@example.com", True),
        allow_registration=True,
    )
    assert signed.created


def test_no_email_is_refused(services: Services, setup) -> None:  # type: ignore[no-untyped-def]
    tenant, provider = setup
    with pytest.raises(FederationRefused) as refused:
        resolve_upstream_sign_in(services.uow(), tenant, provider, _identity(GOOGLE, None, True))
    assert refused.value.reason == linking.NO_EMAIL


def test_both_verified_links_automatically(services: Services, make: Factory, setup) -> None:  # type: ignore[no-untyped-def]
    tenant, provider = setup
    user_id, user = _verified_user(services, make, tenant, True)
    signed = resolve_upstream_sign_in(
        services.uow(), tenant, provider, _identity(GOOGLE, user.email, True)
    )
    assert (signed.user_id, signed.created, signed.linked_now) == (user_id, False, True)
    assert [i.issuer for i in list_identities(services.uow(), tenant, user_id)] == [GOOGLE]


def test_takeover_unverified_upstream_email_matching_a_local_account(  # type: ignore[no-untyped-def]
    services: Services, make: Factory, setup
) -> None:
    """An upstream that does not vouch for the address never reaches the account."""
    tenant, provider = setup
    user_id, user = _verified_user(services, make, tenant, True)
    with pytest.raises(LinkProofNeeded) as proof:
        resolve_upstream_sign_in(
            services.uow(), tenant, provider, _identity(GOOGLE, user.email, False)
        )
    assert (proof.value.user_id, proof.value.has_password) == (user_id, True)
    assert list_identities(services.uow(), tenant, user_id) == []


def test_takeover_local_account_pre_registered_unverified(  # type: ignore[no-untyped-def]
    services: Services, make: Factory, setup
) -> None:
    """Someone registered the victim's address here without proving it: the victim's genuine,
    verified upstream identity must not inherit that account (its password is the attacker's)."""
    tenant, provider = setup
    user_id, user = _verified_user(services, make, tenant, False)
    with pytest.raises(LinkProofNeeded):
        resolve_upstream_sign_in(
            services.uow(), tenant, provider, _identity(GOOGLE, user.email, True)
        )
    assert list_identities(services.uow(), tenant, user_id) == []


def test_takeover_same_subject_from_two_providers(  # type: ignore[no-untyped-def]
    services: Services, make: Factory, setup
) -> None:
    tenant, provider = setup
    other = _provider(services, tenant, "other", OTHER)
    first = resolve_upstream_sign_in(
        services.uow(), tenant, provider, _identity(GOOGLE, "one@example.com", True, subject="42")
    )
    second = resolve_upstream_sign_in(
        services.uow(), tenant, other, _identity(OTHER, "two@example.com", True, subject="42")
    )
    assert second.created and second.user_id != first.user_id
    # The same subject at the other issuer with the first person's address: their rules, not
    # the subject, decide; unverified there, it needs proof.
    with pytest.raises(LinkProofNeeded):
        resolve_upstream_sign_in(
            services.uow(),
            tenant,
            other,
            _identity(OTHER, "one@example.com", False, subject="43"),
        )


def test_takeover_second_provider_claiming_a_linked_address(  # type: ignore[no-untyped-def]
    services: Services, make: Factory, setup
) -> None:
    tenant, provider = setup
    other = _provider(services, tenant, "other", OTHER)
    first = resolve_upstream_sign_in(
        services.uow(), tenant, provider, _identity(GOOGLE, "linked@example.com", True)
    )
    with pytest.raises(LinkProofNeeded):
        resolve_upstream_sign_in(
            services.uow(), tenant, other, _identity(OTHER, "linked@example.com", False)
        )
    # Both sides verified: the second provider joins the same account.
    both = resolve_upstream_sign_in(
        services.uow(), tenant, other, _identity(OTHER, "linked@example.com", True)
    )
    assert (both.user_id, both.linked_now) == (first.user_id, True)
    assert len(list_identities(services.uow(), tenant, first.user_id)) == 2


def test_proof_then_confirmed_link(services: Services, make: Factory, setup) -> None:  # type: ignore[no-untyped-def]
    tenant, provider = setup
    user_id, user = _verified_user(services, make, tenant, True)
    identity = _identity(GOOGLE, user.email, False)
    with pytest.raises(LinkProofNeeded):
        resolve_upstream_sign_in(services.uow(), tenant, provider, identity)
    link_identity(services.uow(), tenant, user_id, provider, identity)
    signed = resolve_upstream_sign_in(services.uow(), tenant, provider, identity)
    assert (signed.user_id, signed.linked_now) == (user_id, False)


def test_identity_of_another_user_is_never_moved(  # type: ignore[no-untyped-def]
    services: Services, make: Factory, setup
) -> None:
    tenant, provider = setup
    owner = resolve_upstream_sign_in(
        services.uow(), tenant, provider, _identity(GOOGLE, "owner@example.com", True, subject="7")
    )
    other_id, _ = _verified_user(services, make, tenant, True)
    with pytest.raises(IdentityTaken):
        link_identity(
            services.uow(),
            tenant,
            other_id,
            provider,
            _identity(GOOGLE, "owner@example.com", True, subject="7"),
        )
    assert list_identities(services.uow(), tenant, owner.user_id)[0].subject == "7"


def test_disabled_account_is_refused(services: Services, make: Factory, setup) -> None:  # type: ignore[no-untyped-def]
    tenant, provider = setup
    signed = resolve_upstream_sign_in(
        services.uow(), tenant, provider, _identity(GOOGLE, "gone@example.com", True, subject="9")
    )
    with services.uow() as uow:
        row = uow.users.by_subject(tenant.id, signed.subject)
        assert row is not None
        row.active = False
        uow.commit()
    with pytest.raises(FederationRefused) as refused:
        resolve_upstream_sign_in(
            services.uow(),
            tenant,
            provider,
            _identity(GOOGLE, "gone@example.com", True, subject="9"),
        )
    assert refused.value.reason == linking.ACCOUNT_DISABLED


def test_unlink_never_removes_the_last_way_in(services: Services, setup) -> None:  # type: ignore[no-untyped-def]
    tenant, provider = setup
    other = _provider(services, tenant, "other", OTHER)
    signed = resolve_upstream_sign_in(
        services.uow(), tenant, provider, _identity(GOOGLE, "only@example.com", True)
    )
    (only,) = list_identities(services.uow(), tenant, signed.user_id)
    with pytest.raises(LastWayIn):
        unlink_identity(services.uow(), tenant, signed.user_id, only.id)
    second = link_identity(
        services.uow(), tenant, signed.user_id, other, _identity(OTHER, "only@example.com", True)
    )
    unlink_identity(services.uow(), tenant, signed.user_id, only.id)
    assert [i.id for i in list_identities(services.uow(), tenant, signed.user_id)] == [second.id]
    with pytest.raises(LastWayIn):
        unlink_identity(services.uow(), tenant, signed.user_id, second.id)


def test_unlink_keeps_identities_when_a_password_remains(  # type: ignore[no-untyped-def]
    services: Services, make: Factory, setup
) -> None:
    tenant, provider = setup
    user_id, user = _verified_user(services, make, tenant, True)
    resolve_upstream_sign_in(services.uow(), tenant, provider, _identity(GOOGLE, user.email, True))
    (only,) = list_identities(services.uow(), tenant, user_id)
    unlink_identity(services.uow(), tenant, user_id, only.id)
    assert list_identities(services.uow(), tenant, user_id) == []


def test_tenants_are_isolated(services: Services, make: Factory, setup) -> None:  # type: ignore[no-untyped-def]
    tenant, provider = setup
    elsewhere = _open_tenant(services, make)
    elsewhere_provider = _provider(services, elsewhere, "upstream", GOOGLE)
    identity = _identity(GOOGLE, "twice@example.com", True, subject="same")
    here = resolve_upstream_sign_in(services.uow(), tenant, provider, identity)
    there = resolve_upstream_sign_in(services.uow(), elsewhere, elsewhere_provider, identity)
    assert here.created and there.created and here.user_id != there.user_id
    (theirs,) = list_identities(services.uow(), elsewhere, there.user_id)
    with pytest.raises(linking.NotFound):
        unlink_identity(services.uow(), tenant, here.user_id, theirs.id)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("on_sign_in", "Upstream Name"), ("fill_empty", "Typed Name"), ("never", "Typed Name")],
)
def test_profile_policy(services: Services, make: Factory, policy: str, expected: str) -> None:
    tenant = _open_tenant(services, make, federation_profile_sync=policy)
    provider = _provider(services, tenant, "upstream", GOOGLE)
    identity = _identity(GOOGLE, "profile@example.com", True, subject="p", name="First Name")
    signed = resolve_upstream_sign_in(services.uow(), tenant, provider, identity)
    with services.uow() as uow:
        row = uow.users.by_subject(tenant.id, signed.subject)
        assert row is not None
        row.name, row.picture = "Typed Name", None
        uow.commit()
    renamed = _identity(
        GOOGLE,
        "profile@example.com",
        True,
        subject="p",
        name="Upstream Name",
        picture="https://pictures.example/p.png",
    )
    resolve_upstream_sign_in(services.uow(), tenant, provider, renamed)
    with services.uow() as uow:
        row = uow.users.by_subject(tenant.id, signed.subject)
        assert row is not None
        assert row.name == expected
        assert row.picture == (None if policy == "never" else "https://pictures.example/p.png")


# The same rules through the hosted pages: the upstream is another tenant of this IdP.


@pytest.fixture
def scene(make: Factory, upstream_idp: UpstreamIdp) -> Scene:
    return federated_scene(make, upstream_idp)


def _local_account(scene: Scene, email: str, verified: bool) -> int:
    user = scene.make.user(scene.tenant, email=email, password=PASSWORD)
    with scene.make.services.uow() as uow:
        row = uow.users.by_subject(scene.tenant.id, user.subject)
        assert row is not None
        row.email_verified = verified
        uow.commit()
        return row.id


def _linked(scene: Scene, user_id: int) -> list[str]:
    return [
        i.provider_slug for i in list_identities(scene.make.services.uow(), scene.tenant, user_id)
    ]


def test_page_unverified_upstream_email_asks_for_proof_and_links_nothing(
    scene: Scene, http: requests.Session
) -> None:
    victim = _local_account(scene, "victim@example.org", verified=True)
    scene.upstream.person("victim@example.org", verified=False)
    trip = scene.through_button(http, "victim@example.org")
    assert trip.url.startswith(f"{scene.issuer}/federation/link")
    assert "Password of that account" in trip.response.text
    wrong = post_form(
        http, trip.response, f"{scene.issuer}/federation/link/proof", password="not it"
    )
    assert "This password is not right." in login_message(wrong)
    assert _linked(scene, victim) == []


def test_page_pre_registered_unverified_account_is_not_taken_over(
    scene: Scene, http: requests.Session
) -> None:
    """An attacker registered the victim's address here (unverified): the victim's verified
    upstream identity does not get that account, and is not attached to it."""
    squatter = _local_account(scene, "owner@example.org", verified=False)
    scene.upstream.person("owner@example.org", verified=True)
    trip = scene.through_button(http, "owner@example.org")
    assert trip.url.startswith(f"{scene.issuer}/federation/link")
    assert f"idp_session_{scene.tenant.slug}" not in {cookie.name for cookie in http.cookies}
    assert _linked(scene, squatter) == []


def test_page_proof_then_confirm_links_and_reaches_the_client(
    scene: Scene, http: requests.Session
) -> None:
    owner = _local_account(scene, "proud@example.org", verified=True)
    scene.upstream.person("proud@example.org", verified=False)
    trip = scene.through_button(http, "proud@example.org")
    proved = post_form(
        http, trip.response, f"{scene.issuer}/federation/link/proof", password=PASSWORD
    )
    assert proved.status_code == 303
    confirm = http.get(proved.headers["Location"], allow_redirects=False)
    assert "Connect your Acme ID account" in confirm.text
    assert _linked(scene, owner) == []  # nothing before the owner says so
    linked = post_form(http, confirm, f"{scene.issuer}/federation/link", decision="link")
    end = walk(http, linked.headers["Location"], scene.issuer)
    assert end.location.startswith(REDIRECT), end.response.text
    assert _linked(scene, owner) == ["acme"]
    # From now on the upstream identity signs the owner in, without any question.
    with requests.Session() as later:
        claims = scene.signed_in_through(later, "proud@example.org")
        assert claims["email"] == "proud@example.org" and claims["amr"] == ["fed"]


def test_page_both_verified_links_automatically(scene: Scene, http: requests.Session) -> None:
    owner = _local_account(scene, "both@example.org", verified=True)
    scene.upstream.person("both@example.org", verified=True)
    claims = scene.signed_in_through(http, "both@example.org")
    assert _linked(scene, owner) == ["acme"]
    events = page_events(
        scene.make.services.uow(),
        scene.tenant.id,
        False,
        AuditFilter(action="user.identity_linked"),
        None,
        10,
    )
    assert [e.details["automatic"] for e in events.items] == [True]
    assert claims["email_verified"] is True


def _account_with_identity(scene: Scene, http: requests.Session, email: str) -> requests.Session:
    """A person created through the upstream, signed in to the account page through it."""
    scene.upstream.person(email)
    scene.signed_in_through(http, email)
    page = http.get(f"{scene.issuer}/account", allow_redirects=False)
    trip = walk(http, f"{scene.issuer}/account", scene.issuer, scene.upstream.issuer, email)
    assert trip.response.status_code == 200 or page.status_code == 200
    return http


def test_account_page_lists_and_refuses_to_remove_the_last_way_in(
    scene: Scene, http: requests.Session
) -> None:
    _account_with_identity(scene, http, "onlyway@example.org")
    page = http.get(f"{scene.issuer}/account")
    assert "Connected sign-in providers" in page.text and "Disconnect Acme ID" in page.text
    action = UNLINK.search(page.text)
    assert action
    refused = http.post(
        f"{scene.make.base_url}{action.group(1)}",
        data={"csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    assert refused.status_code == 409
    assert "only way to sign in" in login_message(refused)


def test_account_page_connects_another_provider_and_disconnects_it(
    scene: Scene, http: requests.Session
) -> None:
    owner = _local_account(scene, "connect@example.org", verified=True)
    scene.upstream.person("someone-else@example.org", verified=False)
    signed_in_http = signed_in_account(scene.issuer, "connect@example.org")
    page = signed_in_http.get(f"{scene.issuer}/account")
    moving = signed_in_http.post(
        f"{scene.issuer}/account/providers/acme/link",
        data={"csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    assert moving.status_code == 200
    upstream_url = html.unescape(REFRESH.search(moving.text).group(1))  # type: ignore[union-attr]
    trip = walk(
        signed_in_http,
        upstream_url,
        scene.issuer,
        scene.upstream.issuer,
        "someone-else@example.org",
    )
    assert trip.url.endswith("/account?done=federation_linked"), trip.url
    assert _linked(scene, owner) == ["acme"]  # the signed-in person chose it: any address
    page = signed_in_http.get(f"{scene.issuer}/account")
    action = UNLINK.search(page.text)
    assert action
    gone = signed_in_http.post(
        f"{scene.make.base_url}{action.group(1)}",
        data={"csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    assert gone.status_code == 303 and _linked(scene, owner) == []  # a password remains


def test_account_page_refuses_an_identity_of_another_person(
    scene: Scene, http: requests.Session
) -> None:
    scene.upstream.person("first@example.org")
    first = scene.signed_in_through(http, "first@example.org")
    second = _local_account(scene, "second@example.org", verified=True)
    signed_in_http = signed_in_account(scene.issuer, "second@example.org")
    page = signed_in_http.get(f"{scene.issuer}/account")
    moving = signed_in_http.post(
        f"{scene.issuer}/account/providers/acme/link",
        data={"csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    upstream_url = html.unescape(REFRESH.search(moving.text).group(1))  # type: ignore[union-attr]
    trip = walk(
        signed_in_http, upstream_url, scene.issuer, scene.upstream.issuer, "first@example.org"
    )
    assert "already connected to another account" in login_message(trip.response)
    assert _linked(scene, second) == []
    assert first["sub"]


def test_page_proof_by_any_way_in_through_the_login_page(
    scene: Scene, http: requests.Session
) -> None:
    """ "Sign in another way": whatever method signs the owner in on the login page (here the
    login form itself; a passkey or a mailed link end the same way, routes.resume_after_sign_in)
    comes back to the confirmation while the link waits."""
    owner = _local_account(scene, "anyway@example.org", verified=True)
    scene.upstream.person("anyway@example.org", verified=False)
    trip = scene.through_button(http, "anyway@example.org")
    login_url = html.unescape(LOGIN_LINK.search(trip.response.text).group(1))  # type: ignore[union-attr]
    signed = Browser(http, scene.issuer).sign_in(login_url, "anyway@example.org", PASSWORD)
    assert signed.headers["Location"].startswith(f"{scene.issuer}/federation/link")
    confirm = http.get(signed.headers["Location"], allow_redirects=False)
    assert "Connect your Acme ID account" in confirm.text
    linked = post_form(http, confirm, f"{scene.issuer}/federation/link", decision="link")
    assert walk(http, linked.headers["Location"], scene.issuer).location.startswith(REDIRECT)
    assert _linked(scene, owner) == ["acme"]


def test_page_someone_else_signing_in_drops_the_pending_link(
    scene: Scene, http: requests.Session
) -> None:
    owner = _local_account(scene, "owned@example.org", verified=True)
    _local_account(scene, "other@example.org", verified=True)
    scene.upstream.person("owned@example.org", verified=False)
    trip = scene.through_button(http, "owned@example.org")
    login_url = html.unescape(LOGIN_LINK.search(trip.response.text).group(1))  # type: ignore[union-attr]
    signed = Browser(http, scene.issuer).sign_in(login_url, "other@example.org", PASSWORD)
    end = walk(http, signed.headers["Location"], scene.issuer)
    assert end.location.startswith(REDIRECT)  # the other person goes on, nothing to confirm
    assert _linked(scene, owner) == []
    again = http.get(f"{scene.issuer}/federation/link", allow_redirects=False)
    assert "federation=expired" in again.headers["Location"]
