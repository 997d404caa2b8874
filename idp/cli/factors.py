"""`idp users factors EMAIL` and `idp users reset-mfa EMAIL`: a person's second factors, for
the help desk when a phone and its recovery codes are lost (issue 10 §4)."""

from __future__ import annotations

import click

from idp.cli.audit import record_operator_write
from idp.cli.base import emit, handles_errors, json_option, open_services, tenant_of
from idp.cli.directory import tenant_option, users
from idp.services.accounts import users as user_service
from idp.services.factors import admin as factors_admin


@users.command("factors")
@tenant_option
@click.argument("email")
@json_option
@handles_errors
def users_factors(slug: str, email: str, as_json: bool) -> None:
    """List the user's second factors (never a secret)."""
    container = open_services()
    tenant = tenant_of(container, slug)
    subject = user_service.find_user(container.uow(), tenant, email).subject
    found = factors_admin.list_factors(container.uow(), tenant, subject)
    emit([factor.public_dict() for factor in found], as_json)


@users.command("reset-mfa")
@tenant_option
@click.argument("email")
@click.option(
    "--factor",
    type=click.Choice(factors_admin.FACTOR_TYPES),
    help="Remove only this factor (totp takes its recovery codes along); default: all.",
)
@json_option
@handles_errors
def users_reset_mfa(slug: str, email: str, factor: str | None, as_json: bool) -> None:
    """Remove the user's second factors: they sign in with the password alone again, or
    enrol anew where the tenant requires a second factor."""
    container = open_services()
    tenant = tenant_of(container, slug)
    subject = user_service.find_user(container.uow(), tenant, email).subject
    if factor is None:
        factors_admin.reset_mfa(container.uow(), tenant, subject)
        record_operator_write(container, "user.mfa_reset", tenant, "user", subject)
    else:
        factors_admin.remove_factor(container.uow(), tenant, subject, factor)
        record_operator_write(
            container, "user.factor_removed", tenant, "user", subject, factor=factor
        )
    emit({"email": email, "removed": factor or "all"}, as_json)
