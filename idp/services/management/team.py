"""A tenant's team: the administrators and their role (owner, admin, viewer), as in seed 002."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from idp.crypto.secrets import new_identifier
from idp.models.team import TEAM_ROLES, TeamMember
from idp.models.uow import UnitOfWork
from idp.services.accounts.users import normalise_email
from idp.services.errors import Conflict, InvalidInput, NotFound
from idp.services.tenancy.tenants import TenantView


@dataclass(frozen=True)
class MemberView:
    member_id: str
    email: str
    role: str
    added_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, member: TeamMember) -> MemberView:
        return cls(member.member_id, member.email, member.role, member.added_by, member.created_at)

    def public_dict(self) -> dict[str, Any]:
        return {
            "id": self.member_id,
            "email": self.email,
            "role": self.role,
            "added_by": self.added_by,
            "created_at": self.created_at.isoformat(),
        }


def _check_role(role: str) -> None:
    if role not in TEAM_ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(TEAM_ROLES)}")


def add_member(
    uow: UnitOfWork, tenant: TenantView, email: str, role: str, added_by: str
) -> MemberView:
    _check_role(role)
    email = normalise_email(email)
    with uow:
        exists = uow.session.scalar(
            select(TeamMember).where(TeamMember.tenant_id == tenant.id, TeamMember.email == email)
        )
        if exists:
            raise Conflict(f"{email} is already on the team")
        member = TeamMember(
            member_id=new_identifier(12),
            tenant_id=tenant.id,
            email=email,
            role=role,
            added_by=added_by,
        )
        uow.session.add(member)
        try:
            uow.commit()
        except IntegrityError as error:
            raise Conflict(f"{email} is already on the team") from error
        return MemberView.of(member)


def list_members(uow: UnitOfWork, tenant: TenantView) -> list[MemberView]:
    with uow:
        query = select(TeamMember).where(TeamMember.tenant_id == tenant.id).order_by(TeamMember.id)
        return [MemberView.of(member) for member in uow.session.scalars(query)]


def get_member(uow: UnitOfWork, tenant: TenantView, member_id: str) -> MemberView:
    with uow:
        return MemberView.of(_require(uow, tenant, member_id))


def change_role(uow: UnitOfWork, tenant: TenantView, member_id: str, role: str) -> MemberView:
    _check_role(role)
    with uow:
        member = _require(uow, tenant, member_id)
        if member.role == "owner" and role != "owner":
            _keep_an_owner(uow, tenant)
        member.role = role
        uow.commit()
        return MemberView.of(member)


def remove_member(uow: UnitOfWork, tenant: TenantView, member_id: str) -> None:
    with uow:
        member = _require(uow, tenant, member_id)
        if member.role == "owner":
            _keep_an_owner(uow, tenant)
        uow.session.delete(member)
        uow.commit()


def _keep_an_owner(uow: UnitOfWork, tenant: TenantView) -> None:
    """A team never loses its last owner: someone must always be able to administer it."""
    owners = uow.session.scalar(
        select(func.count())
        .select_from(TeamMember)
        .where(TeamMember.tenant_id == tenant.id, TeamMember.role == "owner")
    )
    if (owners or 0) <= 1:
        raise Conflict("a team keeps at least one owner")


def _require(uow: UnitOfWork, tenant: TenantView, member_id: str) -> TeamMember:
    member = uow.session.scalar(
        select(TeamMember).where(
            TeamMember.tenant_id == tenant.id, TeamMember.member_id == member_id
        )
    )
    if member is None:
        raise NotFound(f"no team member '{member_id}'")
    return member
