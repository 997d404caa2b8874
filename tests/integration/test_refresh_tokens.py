"""The refresh token service against both databases and stores: what logout revokes, what sits
in the database and the short-lived store (digests and sealed copies, never a token), and that
revoking a family reaches the access tokens issued with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from idp.crypto.secrets import digest
from idp.models.refresh_tokens import RefreshToken
from idp.services.accounts.users import delete_user
from idp.services.container import Services
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.access_tokens import read_access_token
from idp.services.tokens.refresh_tokens import (
    FamilyGrant,
    IssuedRefreshToken,
    Origin,
    RefreshRefused,
    TokenResponse,
    find_refresh_token,
    purge_expired_families,
    revoke_family,
    revoke_session_refresh_tokens,
    rotate,
    start_family,
)
from tests.support.factories import Factory
from tests.support.refresh_families import ISSUER, access_token, family, refresh_client


@pytest.fixture
def tenant(make: Factory) -> TenantView:
    return make.tenant()


@pytest.fixture
def client(make: Factory, tenant: TenantView) -> IssuedClient:
    return refresh_client(make, tenant)


def is_live(services: Services, tenant: TenantView, issued: IssuedRefreshToken) -> bool:
    view = find_refresh_token(services.uow(), tenant, issued.token)
    return view is not None and view.active


def test_logout_revokes_the_sessions_families_but_not_offline_ones(services, make, tenant, client):
    bound = family(services, make, tenant, client, "sid-a", ("openid",))
    offline = family(services, make, tenant, client, "sid-a", ("openid", "offline_access"))
    elsewhere = family(services, make, tenant, client, "sid-b", ("openid",))

    revoke_session_refresh_tokens(services.uow(), services.revocations, tenant, "sid-a")

    assert not is_live(services, tenant, bound)
    assert is_live(services, tenant, offline)
    assert is_live(services, tenant, elsewhere)


def test_logout_at_another_tenant_revokes_nothing(services, make, tenant, client):
    issued = family(services, make, tenant, client, "sid-c", ("openid",))
    revoke_session_refresh_tokens(services.uow(), services.revocations, make.tenant(), "sid-c")
    assert is_live(services, tenant, issued)


def test_only_digests_in_the_database_and_a_sealed_copy_in_the_store(
    services, make, tenant, client
):
    issued = family(services, make, tenant, client, "sid-d", ("openid", "offline_access"))
    new_access = access_token(services, tenant, client)

    def respond(grant: FamilyGrant, scopes: tuple[str, ...]) -> TokenResponse:
        return TokenResponse({"access_token": new_access.token}, new_access)

    body: dict[str, Any] = rotate(
        services.uow(),
        services.refresh_token_lookup,
        services.store,
        services.revocations,
        tenant,
        client.client.client_id,
        issued.token,
        None,
        respond,
        10,
        Origin(),
    )
    successor = body["refresh_token"]
    with services.uow() as uow:
        rows = uow.session.scalars(
            select(RefreshToken).where(RefreshToken.family_id == issued.family_id)
        ).all()
        stored = {row.token_digest for row in rows}
        columns = [str(getattr(row, c.key)) for row in rows for c in RefreshToken.__table__.c]
    assert stored == {digest(issued.token), digest(successor)}
    assert not any(issued.token in value or successor in value for value in columns)

    sealed = services.store.get(
        f"refresh-grace:{tenant.id}:{digest(issued.token)}:{digest(successor)}"
    )
    assert sealed is not None
    assert successor not in sealed and new_access.token not in sealed
    assert "refresh_token" not in sealed


def test_revoking_a_family_revokes_the_access_tokens_issued_with_it(services, make, tenant, client):
    ring = services.key_cache.ring(tenant.id)
    grant = FamilyGrant(
        client_id=client.client.client_id,
        subject=make.user(tenant).subject,
        scopes=("openid", "offline_access"),
        sid="sid-e",
        auth_time=1_700_000_000,
        amr=("pwd",),
    )
    issued_access = access_token(services, tenant, client)
    issued = start_family(services.uow(), tenant, grant, issued_access)
    assert read_access_token(ring, services.revocations, ISSUER, tenant, issued_access.token)

    revoke_family(services.uow(), services.revocations, tenant, issued.family_id)

    assert (
        read_access_token(ring, services.revocations, ISSUER, tenant, issued_access.token) is None
    )
    assert find_refresh_token(services.uow(), tenant, issued.token) is None


def test_no_family_starts_for_a_person_deleted_or_of_another_tenant(services, make, tenant, client):
    """The family's first row reads its person's id from `sub` at this tenant in the INSERT
    itself: a person deleted after their code was issued, or another tenant's, gets none."""
    deleted = make.user(tenant).subject
    delete_user(services.uow(), tenant, deleted)
    elsewhere = make.user(make.tenant()).subject
    for subject in (deleted, elsewhere):
        grant = FamilyGrant(
            client_id=client.client.client_id,
            subject=subject,
            scopes=("openid", "offline_access"),
            sid="sid-gone",
            auth_time=1_700_000_000,
            amr=("pwd",),
        )
        with pytest.raises(RefreshRefused):
            start_family(services.uow(), tenant, grant, access_token(services, tenant, client))
    with services.uow() as uow:
        written = uow.session.scalars(select(RefreshToken).where(RefreshToken.sid == "sid-gone"))
        assert written.all() == []


def test_purging_removes_only_this_tenants_families_past_their_absolute_lifetime(
    services, make, tenant, client
):
    expired = family(services, make, tenant, client, "sid-p1", ("openid", "offline_access"))
    live = family(services, make, tenant, client, "sid-p2", ("openid", "offline_access"))
    other_tenant = make.tenant()
    other_client = refresh_client(make, other_tenant)
    foreign = family(services, make, other_tenant, other_client, "sid-p3", ("openid",))
    past = datetime.now(UTC) - timedelta(seconds=1)
    with services.uow() as uow:
        uow.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id.in_([expired.family_id, foreign.family_id]))
            .values(family_expires_at=past)
        )
        uow.commit()

    assert purge_expired_families(services.uow(), tenant) == 1

    def rows(issued: IssuedRefreshToken) -> int:
        with services.uow() as uow:
            query = select(RefreshToken).where(RefreshToken.family_id == issued.family_id)
            return len(uow.session.scalars(query).all())

    assert (rows(expired), rows(live), rows(foreign)) == (0, 1, 1)
    assert is_live(services, tenant, live)
