"""One-time links in mail (issue 9 §3, §4, §6): a random token in the link, its digest stored.

Each purpose has its lifetime: a verification link lasts a day, a reset link 30 minutes (a
reset link is a password, and mail is read on shared machines). A link is single use, voided by
a newer link of the same purpose and by use; everything happens in the caller's transaction,
so the link exists exactly when the mail that carries it is queued, and is spent exactly when
what it does is committed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from idp.crypto.secrets import digest
from idp.models.account_link_repository import AccountLinks, TakenLink
from idp.models.uow import UnitOfWork

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
CHANGE_EMAIL = "change_email"
MAGIC_LINK = "magic_link"
LIFETIMES = {
    VERIFY_EMAIL: timedelta(hours=24),
    RESET_PASSWORD: timedelta(minutes=30),
    CHANGE_EMAIL: timedelta(hours=24),
    MAGIC_LINK: timedelta(minutes=10),  # a sign-in: as short as reading one's mail allows
}
MAX_TOKEN = 128


@dataclass(frozen=True)
class LiveLink:
    user_id: int
    payload: dict[str, Any]


def issue_link(
    uow: UnitOfWork,
    tenant_id: int,
    user_id: int,
    purpose: str,
    payload: dict[str, Any] | None = None,
    token: str | None = None,
) -> str:
    """A new link token for the person (the only time it exists in clear); not committed.
    `token`: one the caller made with `new_link_token`, when the payload depends on it."""
    token = token or new_link_token()
    expires_at = datetime.now(UTC) + LIFETIMES[purpose]
    AccountLinks(uow.session).replace(
        tenant_id, user_id, purpose, digest(token), expires_at, payload or {}
    )
    return token


def new_link_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits (DESIGN §6)


def take_link(uow: UnitOfWork, tenant_id: int, purpose: str, token: str) -> LiveLink | None:
    """Spend the link if it is live; None for unknown, used, voided, expired or forged ones.
    The caller commits with what the link does, or the link stays unspent."""
    if not token or len(token) > MAX_TOKEN:
        return None
    return _live(AccountLinks(uow.session).take(tenant_id, purpose, digest(token)))


def peek_link(uow: UnitOfWork, tenant_id: int, purpose: str, token: str) -> LiveLink | None:
    """Whether the link is live, spending nothing (the GET that shows the form)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    return _live(AccountLinks(uow.session).peek(tenant_id, purpose, digest(token)))


def take_link_by_digest(
    uow: UnitOfWork, tenant_id: int, purpose: str, link_digest: str
) -> LiveLink | None:
    """`take_link` for a caller that kept only the link's digest (never the token itself)."""
    return _live(AccountLinks(uow.session).take(tenant_id, purpose, link_digest))


def peek_link_by_digest(
    uow: UnitOfWork, tenant_id: int, purpose: str, link_digest: str
) -> LiveLink | None:
    return _live(AccountLinks(uow.session).peek(tenant_id, purpose, link_digest))


def void_links(uow: UnitOfWork, tenant_id: int, user_id: int, purpose: str) -> None:
    AccountLinks(uow.session).void(tenant_id, user_id, purpose)


def _live(taken: TakenLink | None) -> LiveLink | None:
    if taken is None or taken.expires_at <= datetime.now(UTC):
        return None
    return LiveLink(taken.user_id, taken.payload)
