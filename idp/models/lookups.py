"""Hot-path reads: one statement, one round trip, no session and no transaction.

The token, introspection and revocation endpoints read one client row per request and write
nothing. Through the unit of work that read costs an ORM session and, on PostgreSQL, three round
trips (psycopg's implicit BEGIN, the SELECT, the ROLLBACK when the session closes). Here it is a
Core SELECT built once, run on a pooled connection in autocommit mode: one round trip.
bench/RESULTS.md has the measurement. Anything that writes still goes through the unit of work.

The per-process tenant and key caches read a tenant by slug (its id alone first), its signing
keys and its newest key id, when a worker first serves the tenant and after each change to it
(services/generations.py): with 10,000 tenants sharing the traffic that is many reads while a
worker warms up (bench/RESULTS.md, the tenants row), so those reads are made here too, and the
key rows come back as plain rows, with no ORM objects built.

Every refresh first reads the token it was given, to decide what to do with it (the rotation
itself is one guarded UPDATE in the unit of work, which the read only informs), and every code
exchange and refresh reads its person (the claims of the tokens it issues): the row's columns
and role names in one statement, as plain rows, with no objects built.

Every login page lists the tenant's upstream providers (its buttons); every hosted page and
every authorization request of a browser with a session cookie reads that session, and at most
once a minute records that it is in use: each is one statement on its own, with no unit of work
around it (two round trips fewer on PostgreSQL each).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, Row, bindparam, func, select, update

from idp.models.clients import Client
from idp.models.keys import SigningKey
from idp.models.providers import UpstreamProvider
from idp.models.refresh_tokens import RefreshTokenState, read_state
from idp.models.roles import Role, user_roles
from idp.models.sessions import LoginSession
from idp.models.tenants import Tenant
from idp.models.users import User

ClientRow = Row[Any]  # attribute access by column name, like a Client
TenantRow = Row[Any]  # attribute access by column name, like a Tenant
KeyRow = Row[Any]  # a signing key's id, kid, alg, sealed private and public JWK, its times
PersonRow = Row[Any]  # a person's columns and `role`: one of their role names, or None
ProviderRow = Row[Any]  # attribute access by column name, like an UpstreamProvider

_clients = Client.__table__
_CLIENT_BY_ID = select(*_clients.columns).where(
    _clients.c.tenant_id == bindparam("tenant_id"),
    _clients.c.client_id == bindparam("client_id"),
)


_tenants = Tenant.__table__
_TENANT_BY_SLUG = select(*_tenants.columns).where(_tenants.c.slug == bindparam("slug"))
_TENANT_ID_BY_SLUG = select(_tenants.c.id).where(_tenants.c.slug == bindparam("slug"))
_keys = SigningKey.__table__
_NEWEST_KEY_ID = select(func.max(_keys.c.id)).where(_keys.c.tenant_id == bindparam("tenant_id"))
_SIGNING_KEYS = (
    select(
        _keys.c.id,
        _keys.c.kid,
        _keys.c.alg,
        _keys.c.private_jwk_sealed,
        _keys.c.public_jwk,
        _keys.c.activates_at,
        _keys.c.retires_at,
    )
    .where(_keys.c.tenant_id == bindparam("tenant_id"))
    .order_by(_keys.c.activates_at.desc(), _keys.c.id.desc())
)

_users = User.__table__
_roles = Role.__table__
# One row per role (one row with a NULL role for a person without any), in the order of the
# ORM relationship (User.roles): the person's columns repeat, which costs less than a second
# query, and aggregating the names would need each dialect's own function.
_PERSON_BY_SUBJECT = (
    select(
        _users.c.subject,
        _users.c.email,
        _users.c.email_verified,
        _users.c.name,
        _users.c.given_name,
        _users.c.family_name,
        _users.c.active,
        _users.c.created_at,
        _users.c.picture,
        _users.c.updated_at,
        _users.c.attributes,
        _roles.c.name.label("role"),
    )
    .select_from(
        _users.outerjoin(user_roles, user_roles.c.user_id == _users.c.id).outerjoin(
            _roles, _roles.c.id == user_roles.c.role_id
        )
    )
    .where(_users.c.tenant_id == bindparam("tenant_id"), _users.c.subject == bindparam("subject"))
    .order_by(_roles.c.name)
)


# The session's columns a page needs and the two things of its person it needs (not the person
# with roles), on the tables: nothing is loaded as an object.
_sessions = LoginSession.__table__
_LIVE_SESSION = (
    select(
        _sessions.c.id,
        _sessions.c.sid,
        _sessions.c.user_id,
        _sessions.c.auth_time,
        _sessions.c.amr,
        _sessions.c.last_seen_at,
        _users.c.subject,
        _users.c.active,
    )
    .join(_users, _users.c.id == _sessions.c.user_id)
    .where(
        _sessions.c.tenant_id == bindparam("tenant"),
        _sessions.c.cookie_digest == bindparam("cookie"),
        _sessions.c.expires_at > bindparam("now"),
        _users.c.tenant_id == bindparam("tenant"),
    )
)
_SESSION_SEEN = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("seen_at"))
)


class LiveSession(NamedTuple):
    """An unexpired session as a page reads it, with its person's `sub` and active flag."""

    id: int
    sid: str
    user_id: int
    auth_time: datetime
    amr: list[str]
    last_seen_at: datetime | None
    subject: str
    active: bool


_providers = UpstreamProvider.__table__
_PROVIDERS_OF_TENANT = (
    select(*_providers.columns)
    .where(_providers.c.tenant_id == bindparam("tenant_id"))
    .order_by(_providers.c.id)
)


def _reading(engine: Engine) -> Engine:
    """PostgreSQL: autocommit, so psycopg sends no BEGIN and closing needs no ROLLBACK.
    SQLite's driver never opens a transaction for a SELECT, and switching its isolation level
    on every checkout would only add work."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class ClientLookup:
    """Reads a client by (tenant, client id) for the protocol endpoints."""

    def __init__(self, engine: Engine) -> None:
        self._engine = _reading(engine)

    def find(self, tenant_id: int, client_id: str) -> ClientRow | None:
        with self._engine.connect() as connection:
            result = connection.execute(
                _CLIENT_BY_ID, {"tenant_id": tenant_id, "client_id": client_id}
            )
            return result.first()


class TenantLookup:
    """Reads a tenant by slug, its signing keys and the id of its newest one, for the
    per-process caches."""

    def __init__(self, engine: Engine) -> None:
        self._engine = _reading(engine)

    def by_slug(self, slug: str) -> TenantRow | None:
        with self._engine.connect() as connection:
            return connection.execute(_TENANT_BY_SLUG, {"slug": slug}).first()

    def id_by_slug(self, slug: str) -> int | None:
        """The tenant's id alone: what its generation is found by, before its row is read."""
        with self._engine.connect() as connection:
            found = connection.execute(_TENANT_ID_BY_SLUG, {"slug": slug}).scalar()
            return None if found is None else int(found)

    def signing_keys(self, tenant_id: int) -> Sequence[KeyRow]:
        """Every signing key of the tenant, retired ones included, the newest active first."""
        with self._engine.connect() as connection:
            return connection.execute(_SIGNING_KEYS, {"tenant_id": tenant_id}).all()

    def newest_key_id(self, tenant_id: int) -> int | None:
        with self._engine.connect() as connection:
            newest = connection.execute(_NEWEST_KEY_ID, {"tenant_id": tenant_id}).scalar()
            return None if newest is None else int(newest)


class PersonLookup:
    """Reads a person by (tenant, `sub`) for the token endpoints and userinfo."""

    def __init__(self, engine: Engine) -> None:
        self._engine = _reading(engine)

    def by_subject(self, tenant_id: int, subject: str) -> Sequence[PersonRow]:
        """The person's rows, one per role; empty when there is no such person."""
        with self._engine.connect() as connection:
            params = {"tenant_id": tenant_id, "subject": subject}
            return connection.execute(_PERSON_BY_SUBJECT, params).all()


class RefreshTokenLookup:
    """Reads a refresh token's state by (tenant, digest) before the grant decides on it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = _reading(engine)

    def state(self, tenant_id: int, token_digest: str) -> RefreshTokenState | None:
        with self._engine.connect() as connection:
            return read_state(connection, tenant_id, token_digest)


class SessionLookup:
    """Reads the session a browser's cookie names, and records when it was last in use."""

    def __init__(self, engine: Engine) -> None:
        self._engine = _reading(engine)

    def live(self, tenant_id: int, cookie_digest: str, now: datetime) -> LiveSession | None:
        """The unexpired session, with its person's `sub` and whether they are active."""
        with self._engine.connect() as connection:
            params = {"tenant": tenant_id, "cookie": cookie_digest, "now": now}
            row = connection.execute(_LIVE_SESSION, params).first()
        return None if row is None else LiveSession(*row)

    def seen(self, session_id: int, now: datetime) -> None:
        """One UPDATE, committed on its own: a session ended meanwhile matches no row, which is
        no error here."""
        with self._engine.begin() as connection:
            connection.execute(_SESSION_SEEN, {"session_id": session_id, "seen_at": now})


class ProviderLookup:
    """Reads a tenant's upstream providers for the buttons of the login and sign-up pages."""

    def __init__(self, engine: Engine) -> None:
        self._engine = _reading(engine)

    def of_tenant(self, tenant_id: int) -> Sequence[ProviderRow]:
        """Every provider of the tenant, enabled or not, in creation order."""
        with self._engine.connect() as connection:
            return connection.execute(_PROVIDERS_OF_TENANT, {"tenant_id": tenant_id}).all()
