"""Repositories: every query of tenant-owned data takes the tenant explicitly (DESIGN §2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from idp.models.clients import Client
from idp.models.keys import SigningKey
from idp.models.tenants import Tenant
from idp.models.users import User

# Every token response and refresh reads its person by `sub`, every sign-in by e-mail address:
# the statements are built once, and the roles come in the same SELECT (joined), not in a
# second query as the relationship's own `selectin` loading would send.
_WITH_ROLES = select(User).options(joinedload(User.roles))
_USER_BY_SUBJECT = _WITH_ROLES.where(
    User.tenant_id == bindparam("tenant"), User.subject == bindparam("subject")
)
_USER_BY_EMAIL = _WITH_ROLES.where(
    User.tenant_id == bindparam("tenant"), User.email == bindparam("email")
)


class Tenants:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, tenant: Tenant) -> Tenant:
        self._session.add(tenant)
        self._session.flush()
        return tenant

    def by_slug(self, slug: str) -> Tenant | None:
        return self._session.scalar(select(Tenant).where(Tenant.slug == slug))

    def list(self) -> Sequence[Tenant]:
        return self._session.scalars(select(Tenant).order_by(Tenant.slug)).all()


class Clients:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, client: Client) -> Client:
        self._session.add(client)
        self._session.flush()
        return client

    def get(self, tenant_id: int, client_id: str) -> Client | None:
        return self._session.scalar(
            select(Client).where(Client.tenant_id == tenant_id, Client.client_id == client_id)
        )

    def list(self, tenant_id: int) -> Sequence[Client]:
        query = select(Client).where(Client.tenant_id == tenant_id).order_by(Client.id)
        return self._session.scalars(query).all()

    def delete(self, client: Client) -> None:
        self._session.delete(client)


class Users:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, user: User) -> User:
        self._session.add(user)
        self._session.flush()
        return user

    def by_email(self, tenant_id: int, email: str) -> User | None:
        params = {"tenant": tenant_id, "email": email}
        return self._session.execute(_USER_BY_EMAIL, params).unique().scalar_one_or_none()

    def by_subject(self, tenant_id: int, subject: str) -> User | None:
        params = {"tenant": tenant_id, "subject": subject}
        return self._session.execute(_USER_BY_SUBJECT, params).unique().scalar_one_or_none()

    def list(self, tenant_id: int) -> Sequence[User]:
        query = select(User).where(User.tenant_id == tenant_id).order_by(User.id)
        return self._session.scalars(query).all()


class SigningKeys:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, key: SigningKey) -> SigningKey:
        self._session.add(key)
        self._session.flush()
        return key

    def published(self, tenant_id: int, now: datetime) -> Sequence[SigningKey]:
        """Keys in the JWKS: every key not yet retired, newest first."""
        query = (
            select(SigningKey)
            .where(SigningKey.tenant_id == tenant_id)
            .where((SigningKey.retires_at.is_(None)) | (SigningKey.retires_at > now))
            .order_by(SigningKey.activates_at.desc(), SigningKey.id.desc())
        )
        return self._session.scalars(query).all()

    def all(self, tenant_id: int) -> Sequence[SigningKey]:
        query = select(SigningKey).where(SigningKey.tenant_id == tenant_id)
        return self._session.scalars(query.order_by(SigningKey.id)).all()

    def newest_id(self, tenant_id: int) -> int | None:
        return self._session.scalar(
            select(func.max(SigningKey.id)).where(SigningKey.tenant_id == tenant_id)
        )
