"""Queries of management API keys; tenant keys are always looked up within their tenant.

Platform keys (tenant_id NULL) have methods of their own, so no caller reaches them by passing a
missing tenant by mistake.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.models.api_keys import ApiKey


class ApiKeys:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, key: ApiKey) -> ApiKey:
        self._session.add(key)
        self._session.flush()
        return key

    def by_digest(self, key_digest: str) -> ApiKey | None:
        return self._session.scalar(select(ApiKey).where(ApiKey.digest == key_digest))

    def get(self, tenant_id: int, key_id: str) -> ApiKey | None:
        return self._session.scalar(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.key_id == key_id)
        )

    def list(self, tenant_id: int) -> Sequence[ApiKey]:
        query = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
        return self._session.scalars(query).all()

    def get_platform(self, key_id: str) -> ApiKey | None:
        return self._session.scalar(
            select(ApiKey).where(ApiKey.tenant_id.is_(None), ApiKey.key_id == key_id)
        )

    def list_platform(self) -> Sequence[ApiKey]:
        query = select(ApiKey).where(ApiKey.tenant_id.is_(None)).order_by(ApiKey.id)
        return self._session.scalars(query).all()
