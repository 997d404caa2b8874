"""Apps the person let in (issue 9 §6): clients holding a remembered consent or a live refresh
token of theirs, and taking that access back.

Revoking an app deletes its consent (the next sign-in there asks again) and revokes every
refresh token family the person granted it, with the access tokens issued alongside them
(services/tokens/refresh_tokens.py). The account page's own client is never listed: it is the
page itself, not an app the person let in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from idp.models.clients import Client
from idp.models.refresh_tokens import RefreshToken
from idp.models.sessions import Consent
from idp.models.uow import UnitOfWork
from idp.services.accounts.account_client import ACCOUNT_CLIENT_ID
from idp.services.accounts.password_reset import Attempt
from idp.services.accounts.self_service import audit_account_change
from idp.services.signin.consents import describe_scopes
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.refresh_tokens import revoke_client_refresh_tokens
from idp.services.tokens.revocations import Revocations

MAX_CLIENT_ID = 64


@dataclass(frozen=True)
class ConnectedApp:
    client_id: str
    name: str
    permissions: list[str]  # the consented scopes in words (the consent page's)
    keeps_access: bool  # holds a live refresh token


def list_connected_apps(
    uow: UnitOfWork, tenant: TenantView, session: SessionView
) -> list[ConnectedApp]:
    now = datetime.now(UTC)
    with uow:
        consents = {
            row.client_id: row.scopes
            for row in uow.session.scalars(
                select(Consent).where(
                    Consent.tenant_id == tenant.id, Consent.user_id == session.user_id
                )
            )
        }
        refreshing = set(
            uow.session.scalars(
                select(RefreshToken.client_id)
                .where(
                    RefreshToken.tenant_id == tenant.id,
                    RefreshToken.user_id == session.user_id,
                    RefreshToken.revoked_at.is_(None),
                    RefreshToken.used_at.is_(None),
                    RefreshToken.expires_at > now,
                    RefreshToken.family_expires_at > now,
                )
                .distinct()
            )
        )
        ids = (set(consents) | refreshing) - {ACCOUNT_CLIENT_ID}
        rows = uow.session.execute(
            select(Client.client_id, Client.name).where(
                Client.tenant_id == tenant.id, Client.client_id.in_(ids)
            )
        )
        names = {client_id: name for client_id, name in rows}
    return sorted(
        (
            ConnectedApp(
                client_id,
                names[client_id],
                describe_scopes(consents.get(client_id, [])),
                client_id in refreshing,
            )
            for client_id in ids
            if client_id in names  # a deleted client is nobody's app any more
        ),
        key=lambda app: (app.name.lower(), app.client_id),
    )


def revoke_app(
    uow: UnitOfWork,
    revocations: Revocations,
    tenant: TenantView,
    session: SessionView,
    client_id: str,
    attempt: Attempt,
) -> None:
    """Forget the consent and revoke the tokens; idempotent, and silent for a client the
    person never used (nothing to revoke)."""
    if not client_id or len(client_id) > MAX_CLIENT_ID or client_id == ACCOUNT_CLIENT_ID:
        return
    with uow:
        uow.session.execute(
            delete(Consent).where(
                Consent.tenant_id == tenant.id,
                Consent.user_id == session.user_id,
                Consent.client_id == client_id,
            )
        )
        uow.commit()
    revoke_client_refresh_tokens(uow, revocations, tenant, session.user_id, client_id)
    audit_account_change(
        uow, tenant, "user.app_revoke", session.subject, attempt, {"client_id": client_id}
    )
