"""Sign-up on the hosted pages (issue 9 §2) and confirming the address it gives (§3).

Anyone may type any address, so the page must not become a way to learn which addresses have
an account (DESIGN §7): every well-formed sign-up gets the same answer, "check your mail", after
the same work (the password is hashed either way, so the answer takes as long). A new address
gets an account and a verification link; the owner of a taken address gets a mail saying that
someone tried, with links to sign in or reset the password, and their account is untouched.
Both are throttled per address (taken or not, so the limit reveals nothing, and one inbox
cannot be flooded) and per client IP.

A verification link is a one-time link (services/accounts/one_time_links.py): single use,
stored as a digest, 24 hours, voided by a newer one. It carries the authorization request
(`txn`) that brought the person, so once the address is confirmed the login page of that
request follows and the person ends at the client (DESIGN §13), and the address it was sent
to, so a link for an address the account no longer has confirms nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError

from idp.crypto.passwords import Passwords
from idp.i18n import N_
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.one_time_links import VERIFY_EMAIL, issue_link, peek_link, take_link
from idp.services.accounts.password_reset import Attempt, LinkGone
from idp.services.accounts.users import check_name, check_password, new_user, normalise_email
from idp.services.audit import FAILED, SUCCESS, AuditEntry, record_event
from idp.services.errors import InvalidInput, InvalidInputs
from idp.services.mail import Mailer
from idp.services.rate_limits import AddressThrottle
from idp.services.tenancy.profile_attributes import check_values
from idp.services.tenancy.tenants import TenantView
from idp.settings import RateLimitSettings
from idp.stores import ShortLivedStore

BAD_EMAIL = N_("Enter an e-mail address like name@example.com.")
NO_GIVEN_NAME = N_("Enter your given name.")
VERIFY_MAIL = "verify_email"
EXISTING_MAIL = "signup_existing"


@dataclass(frozen=True)
class Signup:
    """What the sign-up form sent, as text; `attributes` are the tenant's own fields by name."""

    email: str
    password: str
    given_name: str
    family_name: str
    attributes: Mapping[str, str]


class RegistrationClosed(Exception):
    """The tenant does not let people create their own accounts."""


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many requests")
        self.retry_after = retry_after


def signup_throttle(store: ShortLivedStore, limits: RateLimitSettings) -> AddressThrottle:
    return AddressThrottle(
        store,
        "signup",
        limits.signups_per_address,
        limits.signups_per_ip,
        limits.signup_window_seconds,
    )


def resend_throttle(store: ShortLivedStore, limits: RateLimitSettings) -> AddressThrottle:
    return AddressThrottle(
        store,
        "verify",
        limits.verification_mails_per_address,
        limits.verification_mails_per_ip,
        limits.signup_window_seconds,
    )


@dataclass(frozen=True)
class Registrar:
    """What a sign-up takes: the process's collaborators, gathered by the page per request."""

    passwords: Passwords
    mailer: Mailer
    throttle: AddressThrottle


def register(
    uow: UnitOfWork, registrar: Registrar, tenant: TenantView, signup: Signup, attempt: Attempt
) -> None:
    """Create the account and mail its verification link, or tell the owner of a taken address.

    Returns the same (nothing) either way. Raises RegistrationClosed, InvalidInputs naming every
    bad field (checked before any lookup, so they say nothing about accounts) or Throttled.
    """
    if not tenant.self_registration:
        raise RegistrationClosed()
    email, names, values = _checked(tenant, signup)
    retry_after = registrar.throttle.hit(tenant.id, email, attempt.ip)
    if retry_after is not None:
        raise Throttled(retry_after)
    # Hashed whether or not the address is free: the answer takes as long either way.
    user = new_user(registrar.passwords, tenant, email, signup.password, names, values)
    with uow:
        existing = uow.users.by_email(tenant.id, email)
        subject: str | None = user.subject if existing is None else existing.subject
        try:
            if existing is None:
                uow.users.add(user)
                uow.session.flush()  # the link needs the user's id
                _queue_verification(uow, registrar.mailer, tenant, user, attempt.txn)
            else:
                _queue_existing(uow, registrar.mailer, tenant, existing.email)
            uow.commit()
        except IntegrityError:
            # Taken meanwhile by a concurrent sign-up, whose account this request must not
            # touch; the same answer all the same.
            subject, existing = None, user
    registrar.mailer.wake()
    if existing is None:
        _audit(uow, tenant, "user.signup", subject, attempt, f"user:{subject}")
    else:  # recorded against the account, so an admin sees attempts on it; the page never says
        _audit(uow, tenant, "user.signup", subject, attempt, "anonymous", "address taken")


def _checked(
    tenant: TenantView, signup: Signup
) -> tuple[str, dict[str, str | None], dict[str, Any]]:
    """Every field checked; InvalidInputs lists each problem so the page marks them all."""
    problems: list[InvalidInput] = []
    email = names = values = None
    try:
        email = normalise_email(signup.email)
    except InvalidInput:  # email-validator's own words are English only
        problems.append(InvalidInput("email", BAD_EMAIL))
    try:
        own_words = [signup.email.strip(), signup.given_name, signup.family_name]
        check_password(signup.password, tenant.password_min_length, own_words)
    except InvalidInput as error:
        problems.append(error)
    try:
        names = {
            "given_name": check_name("given_name", signup.given_name),
            "family_name": check_name("family_name", signup.family_name),
        }
        if not names["given_name"]:
            raise InvalidInput("given_name", NO_GIVEN_NAME)
    except InvalidInput as error:
        problems.append(error)
    try:
        values = check_values(tenant.profile_attributes, signup.attributes, only_registration=True)
    except InvalidInput as error:
        problems.append(error)
    if problems or email is None or names is None or values is None:
        raise InvalidInputs(problems)
    return email, names, values


def _queue_verification(
    uow: UnitOfWork, mailer: Mailer, tenant: TenantView, user: User, txn: str
) -> None:
    payload = {"email": user.email, **({"txn": txn} if txn else {})}
    token = issue_link(uow, tenant.id, user.id, VERIFY_EMAIL, payload)
    link = f"{mailer.issuer(tenant)}/email/verify?{urlencode({'token': token})}"
    mailer.queue(uow.session, tenant, user.email, VERIFY_MAIL, {"verify_url": link})


def _queue_existing(uow: UnitOfWork, mailer: Mailer, tenant: TenantView, email: str) -> None:
    base = mailer.issuer(tenant)
    links = {"login_url": f"{base}/login", "forgot_url": f"{base}/password/forgot"}
    mailer.queue(uow.session, tenant, email, EXISTING_MAIL, links)


def verification_txn(uow: UnitOfWork, tenant: TenantView, token: str) -> str | None:
    """The link's authorization request ("" for none) while it is live, else None; spends
    nothing (the page with the confirm button)."""
    with uow:
        link = peek_link(uow, tenant.id, VERIFY_EMAIL, token)
    return None if link is None else str(link.payload.get("txn", ""))


def verify_email(uow: UnitOfWork, tenant: TenantView, token: str, attempt: Attempt) -> str:
    """Spend the link and mark the address verified; returns the link's `txn`. Raises LinkGone
    for an unknown, used, voided, expired or forged link, or one for another address."""
    with uow:
        link = take_link(uow, tenant.id, VERIFY_EMAIL, token)
        user = uow.session.get(User, link.user_id) if link is not None else None
        if link is None or user is None or user.tenant_id != tenant.id or not user.active:
            raise LinkGone()
        if link.payload.get("email") != user.email:
            raise LinkGone()  # the address changed since: the spent link is rolled back too
        user.email_verified = True
        subject = user.subject
        uow.commit()
    _audit(uow, tenant, "user.email_verified", subject, attempt, f"user:{subject}")
    return str(link.payload.get("txn", ""))


def resend_verification(
    uow: UnitOfWork,
    mailer: Mailer,
    throttle: AddressThrottle,
    tenant: TenantView,
    email: str,
    attempt: Attempt,
) -> None:
    """A new verification link (voiding the older ones) if `email` names an active account
    that is not verified yet; the same outcome otherwise. Raises InvalidInput for something
    that is not an address, Throttled past either limit (counted for every address)."""
    email = normalise_email(email)
    retry_after = throttle.hit(tenant.id, email, attempt.ip)
    if retry_after is not None:
        raise Throttled(retry_after)
    with uow:
        user = uow.users.by_email(tenant.id, email)
        waiting = user is not None and user.active and not user.email_verified
        subject = user.subject if user is not None and waiting else None
        if user is not None and waiting:
            _queue_verification(uow, mailer, tenant, user, attempt.txn)
            uow.commit()
    if subject is not None:
        mailer.wake()
        _audit(uow, tenant, "user.email_verification_requested", subject, attempt, "anonymous")


def _audit(
    uow: UnitOfWork,
    tenant: TenantView,
    action: str,
    subject: str | None,
    attempt: Attempt,
    actor: str,
    refusal: str | None = None,
) -> None:
    """`refusal`: why nothing was done (a failed outcome), e.g. a sign-up for a taken address."""
    record_event(
        uow,
        AuditEntry(
            action=action,
            actor=actor,
            tenant_id=tenant.id,
            target_type="user" if subject else None,
            target_id=subject,
            outcome=FAILED if refusal else SUCCESS,
            client_ip=attempt.ip,
            request_id=attempt.request_id,
            details={"reason": refusal} if refusal else {},
        ),
    )
