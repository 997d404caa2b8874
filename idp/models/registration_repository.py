"""Queries of initial access tokens; always within their tenant (DESIGN §2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from idp.models.registration import InitialAccessToken


class InitialAccessTokens:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, token: InitialAccessToken) -> InitialAccessToken:
        self._session.add(token)
        self._session.flush()
        return token

    def get(self, tenant_id: int, token_id: str) -> InitialAccessToken | None:
        return self._session.scalar(
            select(InitialAccessToken).where(
                InitialAccessToken.tenant_id == tenant_id, InitialAccessToken.token_id == token_id
            )
        )

    def by_digest(self, tenant_id: int, token_digest: str) -> InitialAccessToken | None:
        return self._session.scalar(
            select(InitialAccessToken).where(
                InitialAccessToken.tenant_id == tenant_id, InitialAccessToken.digest == token_digest
            )
        )

    def list(self, tenant_id: int) -> Sequence[InitialAccessToken]:
        query = select(InitialAccessToken).where(InitialAccessToken.tenant_id == tenant_id)
        return self._session.scalars(query.order_by(InitialAccessToken.id)).all()

    def delete(self, token: InitialAccessToken) -> None:
        self._session.delete(token)

    def use(self, tenant_id: int, token_digest: str, now: datetime) -> bool:
        """Count one use if the token is still live: one guarded UPDATE, so two registrations
        racing for a token's last use cannot both win (no read-then-write)."""
        table = InitialAccessToken
        result = self._session.execute(
            update(table)
            .where(table.tenant_id == tenant_id, table.digest == token_digest)
            .where(or_(table.expires_at.is_(None), table.expires_at > now))
            .where(or_(table.max_uses.is_(None), table.uses < table.max_uses))
            .values(uses=table.uses + 1)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]
