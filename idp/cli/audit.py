"""Writes made from a terminal go to the audit log too, as the operator's."""

from __future__ import annotations

import getpass

import click

from idp.services.audit import AuditEntry, record_event
from idp.services.container import Services
from idp.services.management.api_keys import OPERATOR
from idp.services.tenancy.tenants import TenantView


def record_operator_write(
    container: Services,
    action: str,
    tenant: TenantView | None,
    target_type: str,
    target_id: str | None,
    **details: object,
) -> None:
    """Record a successful write of the `idp` command (after its service call returned)."""
    context = click.get_current_context(silent=True)
    record_event(
        container.uow(),
        AuditEntry(
            action=action,
            actor=OPERATOR.label,
            tenant_id=tenant.id if tenant else None,
            target_type=target_type,
            target_id=target_id,
            details={
                "command": context.command_path if context else "idp",
                "os_user": _os_user(),
                **details,
            },
        ),
    )


def _os_user() -> str | None:
    """Who ran the command, as far as the system says (not proof: the shell account)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER, as in some containers
        return None
