"""Roles (groups) of a tenant. A user's role names are the `roles` claim (seed 004)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from idp.models.roles import Role, user_roles
from idp.models.uow import UnitOfWork
from idp.services.errors import Conflict, InvalidInput, NotFound
from idp.services.tenancy.tenants import TenantView

NAME_MAX = 100


@dataclass(frozen=True)
class RoleView:
    name: str
    description: str | None
    members: int
    created_at: datetime

    def public_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "members": self.members,
            "created_at": self.created_at.isoformat(),
        }


def check_role_name(name: str) -> str:
    """A role name is a claim value and a path segment: printable, no '/', 1-NAME_MAX long."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput("name", f"role names are 1-{NAME_MAX} characters")
    if "/" in name or not name.isprintable():
        raise InvalidInput("name", "role names hold no '/' and no control characters")
    return name


def resolve_roles(
    uow: UnitOfWork, tenant_id: int, names: Iterable[str], create_missing: bool
) -> list[Role]:
    """The tenant's roles with these names; unknown names are an error unless created here."""
    wanted = list(dict.fromkeys(check_role_name(name) for name in names))
    if not wanted:
        return []
    existing = {
        role.name: role
        for role in uow.session.scalars(
            select(Role).where(Role.tenant_id == tenant_id, Role.name.in_(wanted))
        )
    }
    missing = [name for name in wanted if name not in existing]
    if missing and not create_missing:
        raise InvalidInput("roles", f"unknown role '{missing[0]}': create it first")
    for name in missing:
        role = Role(tenant_id=tenant_id, name=name)
        uow.session.add(role)
        existing[name] = role
    uow.session.flush()
    return [existing[name] for name in wanted]


def create_role(
    uow: UnitOfWork, tenant: TenantView, name: str, description: str | None = None
) -> RoleView:
    name = check_role_name(name)
    with uow:
        if _find(uow, tenant.id, name):
            raise Conflict(f"role '{name}' already exists")
        role = Role(tenant_id=tenant.id, name=name, description=(description or "").strip() or None)
        uow.session.add(role)
        try:
            uow.commit()
        except IntegrityError as error:
            raise Conflict(f"role '{name}' already exists") from error
        return RoleView(role.name, role.description, 0, role.created_at)


def list_roles(uow: UnitOfWork, tenant: TenantView) -> list[RoleView]:
    members = (
        select(user_roles.c.role_id, func.count().label("members"))
        .group_by(user_roles.c.role_id)
        .subquery()
    )
    query = (
        select(Role, func.coalesce(members.c.members, 0))
        .outerjoin(members, members.c.role_id == Role.id)
        .where(Role.tenant_id == tenant.id)
        .order_by(Role.name)
    )
    with uow:
        return [
            RoleView(role.name, role.description, count, role.created_at)
            for role, count in uow.session.execute(query)
        ]


def get_role(uow: UnitOfWork, tenant: TenantView, name: str) -> RoleView:
    for role in list_roles(uow, tenant):
        if role.name == name:
            return role
    raise NotFound(f"no role '{name}'")


def update_role(
    uow: UnitOfWork, tenant: TenantView, name: str, description: str | None
) -> RoleView:
    with uow:
        role = _require(uow, tenant.id, name)
        role.description = (description or "").strip() or None
        uow.commit()
    return get_role(uow, tenant, name)


def delete_role(uow: UnitOfWork, tenant: TenantView, name: str) -> None:
    """Delete a role; its members simply stop having it."""
    with uow:
        uow.session.delete(_require(uow, tenant.id, name))
        uow.commit()


def _find(uow: UnitOfWork, tenant_id: int, name: str) -> Role | None:
    return uow.session.scalar(select(Role).where(Role.tenant_id == tenant_id, Role.name == name))


def _require(uow: UnitOfWork, tenant_id: int, name: str) -> Role:
    role = _find(uow, tenant_id, name)
    if role is None:
        raise NotFound(f"no role '{name}'")
    return role
