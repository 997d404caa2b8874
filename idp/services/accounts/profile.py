"""The person's own profile on the account page (issue 9 §6): names and the tenant's profile
attributes. The names are the OIDC `given_name`, `family_name` and `name` claims (Core §5.1);
attributes are checked against the tenant's declarations (services/tenancy/profile_attributes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idp.models.uow import UnitOfWork
from idp.services.accounts.password_reset import Attempt
from idp.services.accounts.self_service import audit_account_change, owner_of
from idp.services.errors import InvalidInput
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.profile_attributes import check_values
from idp.services.tenancy.tenants import TenantView

# The widths of the users table's columns.
NAME_LIMITS = {"given_name": 100, "family_name": 100, "name": 200}


@dataclass(frozen=True)
class Profile:
    """What the account page shows of the person."""

    subject: str
    email: str
    email_verified: bool
    given_name: str
    family_name: str
    name: str
    picture: str | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class ProfileEdit:
    """The profile form as sent: names, and attribute values as text by attribute name."""

    given_name: str
    family_name: str
    name: str
    attributes: Mapping[str, str]


def read_profile(uow: UnitOfWork, tenant: TenantView, session: SessionView) -> Profile:
    with uow:
        user = owner_of(uow, tenant, session)
        return Profile(
            subject=user.subject,
            email=user.email,
            email_verified=user.email_verified,
            given_name=user.given_name or "",
            family_name=user.family_name or "",
            name=user.name or "",
            picture=user.picture,
            attributes=dict(user.attributes or {}),
        )


def update_profile(
    uow: UnitOfWork, tenant: TenantView, session: SessionView, edit: ProfileEdit, attempt: Attempt
) -> None:
    """Save the names and attributes; raises InvalidInput naming the first wrong field.

    An empty `name` becomes the given and family names together, so the `name` claim is never
    left stale by someone who only edited the parts.
    """
    names = {field: _clean_name(field, getattr(edit, field)) for field in NAME_LIMITS}
    if names["name"] is None:
        parts = (names["given_name"], names["family_name"])
        names["name"] = " ".join(part for part in parts if part) or None
    with uow:
        user = owner_of(uow, tenant, session)
        attributes = check_values(tenant.profile_attributes, edit.attributes, user.attributes)
        for field, value in names.items():
            setattr(user, field, value)
        user.attributes = attributes
        uow.commit()
    audit_account_change(uow, tenant, "user.profile_update", session.subject, attempt)


def _clean_name(field: str, value: str) -> str | None:
    value = value.strip()
    if len(value) > NAME_LIMITS[field] or not value.isprintable():
        raise InvalidInput(field, f"must be at most {NAME_LIMITS[field]} printable characters")
    return value or None
