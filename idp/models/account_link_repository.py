"""Issuing and taking one-time links (models/account_links.py) in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp.models.account_links import AccountLink


@dataclass(frozen=True)
class TakenLink:
    user_id: int
    payload: dict[str, Any]
    expires_at: datetime


class AccountLinks:
    def __init__(self, session: Session) -> None:
        self._session = session

    def replace(
        self,
        tenant_id: int,
        user_id: int,
        purpose: str,
        digest: str,
        expires_at: datetime,
        payload: dict[str, Any],
    ) -> None:
        """The person's only live link of this purpose: older ones stop working."""
        self.void(tenant_id, user_id, purpose)
        self._session.add(
            AccountLink(
                tenant_id=tenant_id,
                user_id=user_id,
                purpose=purpose,
                digest=digest,
                expires_at=expires_at,
                payload=payload,
            )
        )

    def void(self, tenant_id: int, user_id: int, purpose: str) -> None:
        self._session.execute(
            delete(AccountLink).where(
                AccountLink.tenant_id == tenant_id,
                AccountLink.user_id == user_id,
                AccountLink.purpose == purpose,
            )
        )

    def take(self, tenant_id: int, purpose: str, digest: str) -> TakenLink | None:
        """Find and delete in one statement: of two requests with the same link, one gets it.

        An expired link is deleted too and reported as None: it is as used as a used one.
        """
        row = self._session.execute(
            delete(AccountLink)
            .where(
                AccountLink.tenant_id == tenant_id,
                AccountLink.purpose == purpose,
                AccountLink.digest == digest,
            )
            .returning(AccountLink.user_id, AccountLink.payload, AccountLink.expires_at)
        ).first()
        return TakenLink(row.user_id, row.payload or {}, row.expires_at) if row else None

    def peek(self, tenant_id: int, purpose: str, digest: str) -> TakenLink | None:
        """The link without using it: a GET that shows a form (a mail scanner's GET must
        consume nothing, issue 10 §3) checks the link is live before the person acts."""
        link = (
            self._session.query(AccountLink)
            .filter_by(tenant_id=tenant_id, purpose=purpose, digest=digest)
            .one_or_none()
        )
        return TakenLink(link.user_id, link.payload or {}, link.expires_at) if link else None
