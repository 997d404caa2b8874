"""A person's upstream identities for the management API (`users/{sub}/identities`): list
them, remove one. The same rule as the account page: never the person's last way in."""

from __future__ import annotations

from idp.models.uow import UnitOfWork
from idp.services.errors import Conflict, NotFound
from idp.services.federation.linking import (
    IdentityView,
    LastWayIn,
    list_identities,
    remove_identity,
)
from idp.services.tenancy.tenants import TenantView


def _user_id(uow: UnitOfWork, tenant: TenantView, subject: str) -> int:
    with uow:
        user = uow.users.by_subject(tenant.id, subject)
        if user is None:
            raise NotFound(f"no user '{subject}'")
        return user.id


def list_user_identities(uow: UnitOfWork, tenant: TenantView, subject: str) -> list[IdentityView]:
    return list_identities(uow, tenant, _user_id(uow, tenant, subject))


def remove_user_identity(
    uow: UnitOfWork, tenant: TenantView, subject: str, identity_id: int
) -> None:
    """Conflict when it is the person's last way in: deactivate the user to keep them out."""
    try:
        remove_identity(uow, tenant, _user_id(uow, tenant, subject), identity_id)
    except LastWayIn as error:
        raise Conflict(
            "this identity is the user's only way to sign in (no password, passkey or other "
            "identity); deactivate the user instead"
        ) from error
