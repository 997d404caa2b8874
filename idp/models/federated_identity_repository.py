"""Upstream identities linked to users (models/federated_identities.py), always per tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.models.federated_identities import FederatedIdentity
from idp.models.providers import UpstreamProvider

# Ids are 32-bit integers on PostgreSQL: a larger one from a URL names no row (and must not
# reach the database, which would refuse it with an error instead of an empty answer).
MAX_ROW_ID = 2**31 - 1


class FederatedIdentities:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, identity: FederatedIdentity) -> FederatedIdentity:
        self._session.add(identity)
        self._session.flush()
        return identity

    def by_key(self, tenant_id: int, issuer: str, subject: str) -> FederatedIdentity | None:
        """The link of one upstream identity: (issuer, subject), OIDC Core §5.7."""
        return self._session.scalar(
            select(FederatedIdentity).where(
                FederatedIdentity.tenant_id == tenant_id,
                FederatedIdentity.issuer == issuer,
                FederatedIdentity.subject == subject,
            )
        )

    def of_user(
        self, tenant_id: int, user_id: int
    ) -> Sequence[tuple[FederatedIdentity, UpstreamProvider]]:
        """A person's identities with the provider each came through, oldest first."""
        query = (
            select(FederatedIdentity, UpstreamProvider)
            .join(UpstreamProvider, UpstreamProvider.id == FederatedIdentity.provider_id)
            .where(FederatedIdentity.tenant_id == tenant_id, FederatedIdentity.user_id == user_id)
            .order_by(FederatedIdentity.id)
        )
        return [(row[0], row[1]) for row in self._session.execute(query).all()]

    def get(self, tenant_id: int, user_id: int, identity_id: int) -> FederatedIdentity | None:
        if not 0 < identity_id <= MAX_ROW_ID:
            return None
        return self._session.scalar(
            select(FederatedIdentity).where(
                FederatedIdentity.tenant_id == tenant_id,
                FederatedIdentity.user_id == user_id,
                FederatedIdentity.id == identity_id,
            )
        )

    def count_of_user(self, tenant_id: int, user_id: int) -> int:
        return int(
            self._session.scalar(
                select(func.count(FederatedIdentity.id)).where(
                    FederatedIdentity.tenant_id == tenant_id,
                    FederatedIdentity.user_id == user_id,
                )
            )
            or 0
        )

    def delete(self, identity: FederatedIdentity) -> None:
        self._session.delete(identity)

    def provider(self, tenant_id: int, slug: str) -> UpstreamProvider | None:
        return self._session.scalar(
            select(UpstreamProvider).where(
                UpstreamProvider.tenant_id == tenant_id, UpstreamProvider.slug == slug
            )
        )
