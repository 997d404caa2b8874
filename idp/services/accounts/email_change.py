"""Changing one's e-mail address from the account page (issue 9 §6).

The new address is proven by a link mailed to it (24 hours, single use, voided by a newer
request: services/accounts/one_time_links.py), and the old address is told, so a change made
from a stolen session does not go unnoticed. Asking needs the current password.

The page answers the same whether or not the new address already belongs to another account
here (DESIGN §7): the request always mails the link, and only following it, which only the
owner of that mailbox can, says the address is taken.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError

from idp.crypto.passwords import Passwords
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.one_time_links import CHANGE_EMAIL, issue_link, peek_link, take_link
from idp.services.accounts.password_reset import Attempt, LinkGone, verify_current_password
from idp.services.accounts.self_service import audit_account_change, owner_of
from idp.services.accounts.users import normalise_email
from idp.services.errors import InvalidInput
from idp.services.mail import Mailer
from idp.services.rate_limits import WindowLimiter
from idp.services.signin.sessions import LoginThrottle, SessionView
from idp.services.tenancy.tenants import TenantView

CONFIRM_MAIL = "email_change_confirm"
NOTICE_MAIL = "email_change_notice"
FIELD = "new_email"
SAME_ADDRESS = "This is already the address of your account."


class EmailChangeThrottled(Exception):
    """Too many requests from this account: each one mails two people."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many e-mail change requests")
        self.retry_after = retry_after


class AddressTaken(Exception):
    """The confirmed address belongs to another account of the tenant by now."""


def request_email_change(
    uow: UnitOfWork,
    mailer: Mailer,
    passwords: Passwords,
    throttle: LoginThrottle,
    limiter: WindowLimiter,
    tenant: TenantView,
    session: SessionView,
    new_email: str,
    current_password: str,
    attempt: Attempt,
) -> None:
    """Mail a confirmation link to the new address and a notice to the old one. Raises
    InvalidInput (field `new_email`), WrongPassword or EmailChangeThrottled (`limiter` counts
    the account's requests, so a signed-in person cannot make us mail anyone at will); says
    nothing about other accounts."""
    try:
        new = normalise_email(new_email)
    except InvalidInput as error:
        raise InvalidInput(FIELD, error.message) from error
    verify_current_password(
        uow, passwords, throttle, tenant, session.user_id, current_password, attempt.ip
    )
    retry_after = limiter.hit(f"{tenant.id}:{session.user_id}")
    if retry_after is not None:
        raise EmailChangeThrottled(retry_after)
    with uow:
        user = owner_of(uow, tenant, session)
        if new == user.email:
            raise InvalidInput(FIELD, SAME_ADDRESS)
        token = issue_link(uow, tenant.id, user.id, CHANGE_EMAIL, {"email": new})
        issuer = mailer.issuer(tenant)
        link = f"{issuer}/email/confirm?{urlencode({'token': token})}"
        mailer.queue(uow.session, tenant, new, CONFIRM_MAIL, {"confirm_url": link})
        mailer.queue(
            uow.session,
            tenant,
            user.email,
            NOTICE_MAIL,
            {"new_address": new, "forgot_url": f"{issuer}/password/forgot"},
        )
        uow.commit()
    mailer.wake()
    audit_account_change(uow, tenant, "user.email_change_requested", session.subject, attempt)


def email_change_pending(uow: UnitOfWork, tenant: TenantView, token: str) -> str | None:
    """The address the link would confirm while it is live, else None; spends nothing."""
    with uow:
        link = peek_link(uow, tenant.id, CHANGE_EMAIL, token)
    return None if link is None else str(link.payload.get("email", ""))


def confirm_email_change(uow: UnitOfWork, tenant: TenantView, token: str, attempt: Attempt) -> str:
    """Spend the link and make its address the account's, verified. Returns the address.
    Raises LinkGone, or AddressTaken (the link is spent all the same)."""
    with uow:
        link = take_link(uow, tenant.id, CHANGE_EMAIL, token)
        user = uow.session.get(User, link.user_id) if link is not None else None
        if link is None or user is None or user.tenant_id != tenant.id or not user.active:
            raise LinkGone()
        new = str(link.payload.get("email", ""))
        subject = user.subject
        if uow.users.by_email(tenant.id, new) is not None:
            uow.commit()  # the link is spent: it can never succeed
            raise AddressTaken()
        user.email = new
        user.email_verified = True
        try:
            uow.commit()
        except IntegrityError as error:  # taken a moment ago by a concurrent change
            raise AddressTaken() from error
    audit_account_change(uow, tenant, "user.email_change", subject, attempt)
    return new
