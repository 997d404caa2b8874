"""People who sign in: creation with normalised e-mail, passwords, activation, names and the
tenant's profile attributes (services/tenancy/profile_attributes.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from idp.crypto.common_passwords import is_common
from idp.crypto.passwords import Passwords
from idp.models.lookups import PersonLookup, PersonRow
from idp.models.pagination import Page, keyset_page
from idp.models.sessions import LoginSession
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.roles import resolve_roles
from idp.services.errors import Conflict, InvalidInput, NotFound
from idp.services.oauth_clients.clients import longest_token_lifetime
from idp.services.signin.session_clients import LogoutQueue, notices_for
from idp.services.tenancy.profile_attributes import check_values
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.access_tokens import revoke_tokens_of_person
from idp.services.tokens.refresh_tokens import revoke_refresh_tokens_of_person
from idp.services.tokens.revocations import Revocations
from idp.settings import TokenSettings

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# The columns' lengths (models/users.py): longer input is refused with a message, never a 500.
NAME_LIMITS = {"name": 200, "given_name": 100, "family_name": 100}


@dataclass(frozen=True)
class UserView:
    subject: str
    email: str
    email_verified: bool
    name: str | None
    given_name: str | None
    family_name: str | None
    roles: tuple[str, ...]
    active: bool
    created_at: datetime
    picture: str | None
    # The last change to the account: the OIDC `updated_at` claim (Core §5.1).
    updated_at: datetime
    # Values of the tenant's profile attributes, by name (released by their scope).
    attributes: Mapping[str, Any]

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls.from_columns(user, tuple(role.name for role in user.roles))

    @classmethod
    def from_columns(cls, person: User | PersonRow, roles: tuple[str, ...]) -> UserView:
        """From anything that has a person's columns as attributes: a User, or a row read
        without the ORM (models.lookups.PersonLookup)."""
        return cls(
            subject=person.subject,
            email=person.email,
            email_verified=person.email_verified,
            name=person.name,
            given_name=person.given_name,
            family_name=person.family_name,
            roles=roles,
            active=person.active,
            created_at=person.created_at,
            picture=person.picture,
            updated_at=person.updated_at,
            attributes=dict(person.attributes or {}),
        )

    def public_dict(self) -> dict[str, Any]:
        return {
            "sub": self.subject,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "roles": list(self.roles),
            "active": self.active,
            "created_at": self.created_at.isoformat(),
            "attributes": dict(self.attributes),
        }


def normalise_email(email: str) -> str:
    """The canonical form used for uniqueness and lookup.

    email-validator normalises the domain and Unicode; we also lower-case the local part. RFC 5321
    lets a mailbox be case-sensitive, but no real provider is, and two accounts that differ only
    in case would let one person be mistaken for another.
    """
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidInput("email", str(error)) from error


def check_password(
    password: str, min_length: int = MIN_PASSWORD, context: Iterable[str] = ()
) -> None:
    """`min_length` is the tenant's password policy (never below MIN_PASSWORD); `context` are
    the person's own words (address, names) that must not be the whole password."""
    min_length = max(min_length, MIN_PASSWORD)
    if not min_length <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("password", f"must be {min_length}-{MAX_PASSWORD} characters")
    context = [*context, *(word.partition("@")[0] for word in context if "@" in word)]
    if is_common(password, context):
        raise InvalidInput(
            "password", "is too easy to guess: it is a common password or your own address"
        )


def check_name(field: str, value: str | None) -> str | None:
    """A name as stored: trimmed, None when blank; InvalidInput past the column's length."""
    value = (value or "").strip() or None
    if value is not None and (len(value) > NAME_LIMITS[field] or not value.isprintable()):
        raise InvalidInput(field, f"must be at most {NAME_LIMITS[field]} printable characters")
    return value


def complete_names(
    names: Mapping[str, str | None],
) -> tuple[str | None, str | None, str | None]:
    """(name, given_name, family_name), checked: `name` alone is split at its first space, the
    two parts alone make `name`."""
    name = check_name("name", names.get("name"))
    given = check_name("given_name", names.get("given_name"))
    family = check_name("family_name", names.get("family_name"))
    if name and not (given or family):
        first, _, rest = name.partition(" ")
        given, family = check_name("given_name", first), check_name("family_name", rest)
    elif not name and (given or family):
        name = check_name("name", " ".join(part for part in (given, family) if part))
    return name, given, family


def new_user(
    passwords: Passwords,
    tenant: TenantView,
    email: str,
    password: str | None,
    names: Mapping[str, str | None],
    attributes: Mapping[str, Any],
) -> User:
    """An unsaved user row from checked values (`names`: see `complete_names`)."""
    name, given, family = complete_names(names)
    return User(
        tenant_id=tenant.id,
        subject=str(uuid.uuid4()),
        email=normalise_email(email),
        name=name,
        given_name=given,
        family_name=family,
        attributes=dict(attributes),
        password_hash=passwords.hash(password) if password is not None else None,
    )


def create_user(
    uow: UnitOfWork,
    passwords: Passwords,
    tenant: TenantView,
    email: str,
    password: str | None,
    name: str | None = None,
    roles: tuple[str, ...] = (),
    create_missing_roles: bool = False,
    attributes: Mapping[str, Any] | None = None,
) -> UserView:
    """A new user made by an admin; `roles` must exist unless `create_missing_roles` (the
    operator's shortcut). `attributes` are checked against the tenant's declarations; a
    required one may be left for the person to fill in (check_values, require=False)."""
    email = normalise_email(email)
    if password is not None:
        check_password(password, tenant.password_min_length, [email, name or ""])
    values = check_values(tenant.profile_attributes, attributes or {}, require=False)
    with uow:
        if uow.users.by_email(tenant.id, email):
            raise Conflict(f"a user with e-mail {email} already exists in '{tenant.slug}'")
        user = new_user(passwords, tenant, email, password, {"name": name}, values)
        user.roles = resolve_roles(uow, tenant.id, roles, create_missing_roles)
        uow.users.add(user)
        try:
            uow.commit()
        except IntegrityError as error:
            raise Conflict(f"a user with e-mail {email} already exists") from error
        return UserView.of(user)


def find_user(uow: UnitOfWork, tenant: TenantView, email: str) -> UserView:
    with uow:
        return UserView.of(_require(uow, tenant, email))


def list_users(uow: UnitOfWork, tenant: TenantView) -> list[UserView]:
    with uow:
        return [UserView.of(user) for user in uow.users.list(tenant.id)]


def set_password(
    uow: UnitOfWork, passwords: Passwords, tenant: TenantView, email: str, password: str
) -> None:
    check_password(password, tenant.password_min_length, [email])
    with uow:
        _require(uow, tenant, email).password_hash = passwords.hash(password)
        uow.commit()


def set_active(uow: UnitOfWork, tenant: TenantView, email: str, active: bool) -> UserView:
    with uow:
        user = _require(uow, tenant, email)
        user.active = active
        uow.commit()
        return UserView.of(user)


def _require(uow: UnitOfWork, tenant: TenantView, email: str) -> User:
    user = uow.users.by_email(tenant.id, normalise_email(email))
    if user is None:
        raise NotFound(f"no user {email} in '{tenant.slug}'")
    return user


def page_users(
    uow: UnitOfWork,
    tenant: TenantView,
    after: int | None,
    limit: int,
    email: str | None = None,
    text: str | None = None,
    active: bool | None = None,
) -> Page[UserView]:
    """Users of `tenant`, optionally by exact e-mail, by a text in e-mail or name, by state."""
    query = select(User).where(User.tenant_id == tenant.id)
    if email is not None:
        query = query.where(User.email == normalise_email(email))
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = "%" + escaped + "%"
        query = query.where(
            or_(User.email.ilike(pattern, escape="\\"), User.name.ilike(pattern, escape="\\"))
        )
    if active is not None:
        query = query.where(User.active == active)
    with uow:
        page = keyset_page(uow.session, query, User.id, after, limit)
        return Page([UserView.of(user) for user in page.items], page.next_after)


def get_user(uow: UnitOfWork, tenant: TenantView, subject: str) -> UserView:
    with uow:
        return UserView.of(_by_subject(uow, tenant, subject))


def read_user(lookup: PersonLookup, tenant: TenantView, subject: str) -> UserView:
    """`get_user` for the token endpoints and userinfo: one round trip, no session and no
    ORM objects (models.lookups), the same view."""
    rows = lookup.by_subject(tenant.id, subject)
    if not rows:
        raise NotFound(f"no user '{subject}' in '{tenant.slug}'")
    roles = tuple(row.role for row in rows if row.role is not None)
    return UserView.from_columns(rows[0], roles)


def update_user(
    uow: UnitOfWork, tenant: TenantView, subject: str, changes: dict[str, Any]
) -> UserView:
    """Change names, roles, activation, e-mail verification or attribute values of one user.

    `attributes` holds the values to change (null removes one); the others stay."""
    with uow:
        user = _by_subject(uow, tenant, subject)
        for field in NAME_LIMITS:
            if field in changes:
                setattr(user, field, check_name(field, changes[field]))
        if "attributes" in changes:
            user.attributes = check_values(
                tenant.profile_attributes, changes["attributes"], user.attributes, require=False
            )
        if "roles" in changes:
            user.roles = resolve_roles(uow, tenant.id, changes["roles"], create_missing=False)
        if "active" in changes:
            user.active = bool(changes["active"])
        if "email_verified" in changes:
            user.email_verified = bool(changes["email_verified"])
        uow.commit()
        return UserView.of(user)


def delete_user(uow: UnitOfWork, tenant: TenantView, subject: str) -> None:
    with uow:
        uow.session.delete(_by_subject(uow, tenant, subject))
        uow.commit()


def _by_subject(uow: UnitOfWork, tenant: TenantView, subject: str) -> User:
    user = uow.users.by_subject(tenant.id, subject)
    if user is None:
        raise NotFound(f"no user '{subject}' in '{tenant.slug}'")
    return user


def sign_out_everywhere(
    uow: UnitOfWork,
    revocations: Revocations,
    backchannel: LogoutQueue,
    issuer: str,
    tenant: TenantView,
    subject: str,
    defaults: TokenSettings,
    keep_sid: str | None = None,
) -> None:
    """End every login session of the person and revoke every access and refresh token
    issued to them.

    Used when an admin signs someone out, when an account is deactivated and after a password
    reset: a person who may no longer sign in must not stay signed in anywhere. `keep_sid` is
    the session that changed its own password: it stays, every other one ends (its apps' tokens
    are revoked all the same: a subject revocation voids every access token issued until now).
    The logout tokens owed to the clients of those sessions (OIDC Back-Channel Logout) are
    queued in the transaction that ends them. Every step is idempotent, so a request that failed
    half way is simply made again.
    """
    with uow:
        user = _by_subject(uow, tenant, subject)
        ending = LoginSession.user_id == user.id
        if keep_sid is not None:
            ending = and_(ending, LoginSession.sid != keep_sid)
        notices = notices_for(uow, tenant.id, user.subject, ending)
        uow.login_sessions.remove_all_of(tenant.id, user.id, keep_sid)
        backchannel.queue(uow.session, issuer, tenant, notices)
        uow.commit()
    backchannel.wake()
    lifetime = longest_token_lifetime(uow, tenant, defaults)
    revoke_tokens_of_person(revocations, tenant, subject, lifetime)
    revoke_refresh_tokens_of_person(uow, revocations, tenant, subject)
