"""Which of our users an upstream identity is (issue 11 §3): the linking rules.

An upstream identity is its (issuer, subject) pair (OIDC Core §5.7), never its e-mail: an
address may be unverified upstream, reassigned, or claimed by anyone at a provider that does
not check it. So:

- a known (issuer, subject) signs in the user it is linked to, and nobody else;
- an unknown one whose e-mail no account here has becomes a new account, just in time, when
  the tenant lets people register (the switch of the sign-up page); its address counts as
  verified only because the upstream asserted it, and it has no password. An address the
  upstream has not verified makes no account: whoever later proves that mailbox (a password
  reset) would inherit an account the upstream identity still signs in to, the "pre-account
  takeover" of Sudhodanan and Paverd (USENIX Security 2022);
- an unknown one whose e-mail an account here has is linked to it automatically only when the
  upstream asserts the address verified AND our account's address is verified: both sides then
  proved control of the same mailbox. Otherwise (`LinkProofNeeded`) the person must first prove
  they hold that account (sign in to it) and then confirm the link: so an account someone
  pre-registered with a victim's address (unverified here) is never handed to the upstream
  identity, and an upstream identity claiming a victim's address without proving it is never
  attached to the victim's account.

The same subject at two issuers is two identities; a second provider claiming an address that
is already linked follows the same rules. A person keeps at least one way in: the last one
cannot be unlinked (`LastWayIn`).

Every outcome is audited here, so the hosted flow and token exchange (RFC 8693, another entry
point) record the same events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.federation.base import UpstreamIdentity
from idp.models.federated_identities import FederatedIdentity
from idp.models.federated_identity_repository import FederatedIdentities
from idp.models.passkeys import Passkey
from idp.models.providers import UpstreamProvider
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.users import complete_names, normalise_email
from idp.services.audit import FAILED, SUCCESS, AuditEntry, record_event
from idp.services.errors import InvalidInput, NotFound
from idp.services.federation.profile_sync import sync_profile, upstream_profile
from idp.services.signin.sessions import Attempt
from idp.services.tenancy.providers import ProviderView
from idp.services.tenancy.tenants import TenantView
from idp.services.tenancy.usage import (
    FEDERATED_SIGNUPS,
    FEDERATION_FAILURES,
    IDENTITY_LINKS,
    IDENTITY_UNLINKS,
    UsageRecorder,
)

# Reasons of FederationRefused: stable codes for pages, API answers and the audit log.
REGISTRATION_CLOSED = "registration_closed"
NO_EMAIL = "no_email"
ACCOUNT_DISABLED = "account_disabled"
EMAIL_UNVERIFIED = "email_unverified"
PROVIDER_GONE = "provider_gone"


@dataclass(frozen=True)
class FederatedSignIn:
    """Who signs in: `created` a new account just now, `linked_now` a link written now."""

    user_id: int
    subject: str
    created: bool
    linked_now: bool


@dataclass(frozen=True)
class IdentityView:
    """One linked identity, as the account page and the API show it."""

    id: int
    provider_slug: str
    provider_name: str
    provider_kind: str
    issuer: str
    subject: str
    email: str | None
    created_at: datetime
    last_used_at: datetime | None

    def public_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "provider": self.provider_slug,
            "issuer": self.issuer,
            "subject": self.subject,
            "email": self.email,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


class FederationRefused(Exception):
    """No sign-in: `reason` is one of the codes above (registration closed, no usable e-mail,
    account disabled, provider removed meanwhile)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LinkProofNeeded(Exception):
    """An account has the upstream's e-mail but may not be linked automatically: the person
    proves that account (signs in to it) and confirms. Carries what that page needs; the
    account's address is the one the upstream sent, so it tells the person nothing new."""

    def __init__(self, user_id: int, subject: str, email: str, has_password: bool) -> None:
        super().__init__("link proof needed")
        self.user_id = user_id
        self.subject = subject
        self.email = email
        self.has_password = has_password


class IdentityTaken(Exception):
    """This upstream identity is already linked to another user of the tenant."""


class LastWayIn(Exception):
    """Unlinking would leave the person no way to sign in (no password, passkey or other
    identity)."""


def resolve_upstream_sign_in(
    uow: UnitOfWork,
    tenant: TenantView,
    provider: ProviderView,
    identity: UpstreamIdentity,
    *,
    allow_registration: bool | None = None,
    attempt: Attempt | None = None,
    usage: UsageRecorder | None = None,
) -> FederatedSignIn:
    """The user this verified upstream identity signs in, per the rules of the module.

    `allow_registration` None follows the tenant's `self_registration`. Raises LinkProofNeeded
    or FederationRefused; opens no session (the caller does: sign_in.open_federated_session,
    amr `fed`). `attempt` goes to the audit log, `usage` counts what happened."""
    attempt = attempt or Attempt("unknown")
    try:
        signed = _resolve(uow, tenant, provider, identity, allow_registration, attempt)
    except FederationRefused as refused:
        _audit(uow, tenant, attempt, "user.sign_in", None, provider, FAILED, refused.reason)
        _count(usage, tenant, attempt, FEDERATION_FAILURES)
        raise
    if signed.created:
        _count(usage, tenant, attempt, FEDERATED_SIGNUPS)
    if signed.linked_now:
        _count(usage, tenant, attempt, IDENTITY_LINKS)
    return signed


def _resolve(
    uow: UnitOfWork,
    tenant: TenantView,
    provider: ProviderView,
    identity: UpstreamIdentity,
    allow_registration: bool | None,
    attempt: Attempt,
) -> FederatedSignIn:
    with uow:
        signed = _resolve_in(uow, tenant, provider, identity, allow_registration)
    if signed.created:
        _audit(uow, tenant, attempt, "user.signup", signed.subject, provider, SUCCESS)
    elif signed.linked_now:
        _audit(
            uow,
            tenant,
            attempt,
            "user.identity_linked",
            signed.subject,
            provider,
            SUCCESS,
            auto=True,
        )
    return signed


def _resolve_in(
    uow: UnitOfWork,
    tenant: TenantView,
    provider: ProviderView,
    identity: UpstreamIdentity,
    allow_registration: bool | None,
) -> FederatedSignIn:
    """The rules, in the caller's transaction (committed here when something was written)."""
    known = FederatedIdentities(uow.session).by_key(tenant.id, identity.issuer, identity.subject)
    if known is not None:
        user = uow.session.get(User, known.user_id)
        if user is None or not user.active:
            raise FederationRefused(ACCOUNT_DISABLED)
        _touch(known, identity)
        sync_profile(user, identity, tenant.federation_profile_sync)
        uow.commit()
        return FederatedSignIn(user.id, user.subject, created=False, linked_now=False)
    email = _usable_email(identity)
    user = uow.users.by_email(tenant.id, email)
    if user is None:
        if allow_registration is None:
            allow_registration = tenant.self_registration
        if not allow_registration:
            raise FederationRefused(REGISTRATION_CLOSED)
        if not identity.email_verified:
            # No account from an unproven address (module docstring: pre-account takeover).
            raise FederationRefused(EMAIL_UNVERIFIED)
        return _create(uow, tenant, provider, identity, email)
    if not user.active:
        raise FederationRefused(ACCOUNT_DISABLED)
    if not (identity.email_verified and user.email_verified):
        raise LinkProofNeeded(user.id, user.subject, user.email, user.password_hash is not None)
    _link(uow, tenant, provider, identity, user)
    sync_profile(user, identity, tenant.federation_profile_sync)
    uow.commit()
    return FederatedSignIn(user.id, user.subject, created=False, linked_now=True)


def link_identity(
    uow: UnitOfWork,
    tenant: TenantView,
    user_id: int,
    provider: ProviderView,
    identity: UpstreamIdentity,
    *,
    attempt: Attempt | None = None,
    usage: UsageRecorder | None = None,
) -> IdentityView:
    """Link `identity` to a person who proved their account (the confirmation page, or the
    account page's "link another provider"). Linking it again to the same person is a no-op;
    IdentityTaken when it belongs to someone else (never moved silently)."""
    with uow:
        user = uow.session.get(User, user_id)
        if user is None or user.tenant_id != tenant.id or not user.active:
            raise NotFound("the account is gone")
        known = FederatedIdentities(uow.session).by_key(
            tenant.id, identity.issuer, identity.subject
        )
        if known is not None and known.user_id != user.id:
            raise IdentityTaken()
        new = known is None
        if known is None:
            known = _link(uow, tenant, provider, identity, user)
        else:
            _touch(known, identity)
        try:
            uow.commit()
        except IntegrityError as error:  # linked by a concurrent request meanwhile
            raise IdentityTaken() from error
        subject, view = user.subject, _view(known, provider)
    if new:
        _audit(uow, tenant, attempt, "user.identity_linked", subject, provider, SUCCESS, auto=False)
        _count(usage, tenant, attempt, IDENTITY_LINKS)
    return view


def unlink_identity(
    uow: UnitOfWork,
    tenant: TenantView,
    user_id: int,
    identity_id: int,
    *,
    attempt: Attempt | None = None,
    usage: UsageRecorder | None = None,
) -> None:
    """The person removes one of their links (the account page): LastWayIn when it is their
    only way to sign in, NotFound when it is not theirs. Audited and counted."""
    subject, slug = remove_identity(uow, tenant, user_id, identity_id)
    record_event(
        uow,
        AuditEntry(
            action="user.identity_unlinked",
            actor=f"user:{subject}",
            tenant_id=tenant.id,
            target_type="user",
            target_id=subject,
            client_ip=(attempt.ip if attempt else None),
            request_id=(attempt.request_id if attempt else None),
            details={"provider": slug, "identity_id": identity_id},
        ),
    )
    _count(usage, tenant, attempt, IDENTITY_UNLINKS)


def remove_identity(
    uow: UnitOfWork, tenant: TenantView, user_id: int, identity_id: int
) -> tuple[str, str | None]:
    """Delete one link unless it is the person's last way in (no password, no passkey, no
    other identity): LastWayIn. Not audited here: the caller's entry point records who did it.
    Returns the person's subject and the provider's slug."""
    with uow:
        identities = FederatedIdentities(uow.session)
        link = identities.get(tenant.id, user_id, identity_id)
        user = uow.session.get(User, user_id)
        if link is None or user is None or user.tenant_id != tenant.id:
            raise NotFound("no such identity")
        others = identities.count_of_user(tenant.id, user_id) - 1
        if not (others or user.password_hash or _has_passkey(uow, tenant.id, user_id)):
            raise LastWayIn()
        slug = _provider_slug(uow, link)
        identities.delete(link)
        uow.commit()
        return user.subject, slug


def list_identities(uow: UnitOfWork, tenant: TenantView, user_id: int) -> list[IdentityView]:
    with uow:
        rows = FederatedIdentities(uow.session).of_user(tenant.id, user_id)
        return [_view(link, ProviderView.of(provider)) for link, provider in rows]


def _usable_email(identity: UpstreamIdentity) -> str:
    if not identity.email:
        raise FederationRefused(NO_EMAIL)
    try:
        return normalise_email(identity.email)
    except InvalidInput as error:
        raise FederationRefused(NO_EMAIL) from error


def _create(
    uow: UnitOfWork,
    tenant: TenantView,
    provider: ProviderView,
    identity: UpstreamIdentity,
    email: str,
) -> FederatedSignIn:
    """A new account without a password; its address is verified only if the upstream said
    so (an unverified one stays unverified, as after a sign-up)."""
    profile = upstream_profile(identity)
    name, given, family = complete_names(profile)
    user = User(
        tenant_id=tenant.id,
        subject=str(uuid.uuid4()),
        email=email,
        email_verified=identity.email_verified,
        name=name,
        given_name=given,
        family_name=family,
        picture=profile.get("picture"),
        attributes={},
        password_hash=None,
    )
    try:
        uow.users.add(user)
        _link(uow, tenant, provider, identity, user)
        uow.commit()
    except IntegrityError as error:
        # The same address or identity registered by a concurrent request: the person tries
        # again and takes the path of an existing account.
        raise FederationRefused(REGISTRATION_CLOSED) from error
    return FederatedSignIn(user.id, user.subject, created=True, linked_now=True)


def _link(
    uow: UnitOfWork,
    tenant: TenantView,
    provider: ProviderView,
    identity: UpstreamIdentity,
    user: User,
) -> FederatedIdentity:
    row = FederatedIdentities(uow.session).provider(tenant.id, provider.slug)
    if row is None:
        raise FederationRefused(PROVIDER_GONE)
    link = FederatedIdentity(
        tenant_id=tenant.id,
        user_id=user.id,
        provider_id=row.id,
        issuer=identity.issuer,
        subject=identity.subject,
    )
    _touch(link, identity)
    return FederatedIdentities(uow.session).add(link)


def _touch(link: FederatedIdentity, identity: UpstreamIdentity) -> None:
    link.email = (identity.email or "")[:320] or None
    link.email_verified = identity.email_verified
    link.last_used_at = datetime.now(UTC)


def _has_passkey(uow: UnitOfWork, tenant_id: int, user_id: int) -> bool:
    query = select(Passkey.id).where(Passkey.tenant_id == tenant_id, Passkey.user_id == user_id)
    return uow.session.scalar(query.limit(1)) is not None


def _provider_slug(uow: UnitOfWork, link: FederatedIdentity) -> str | None:
    provider = uow.session.get(UpstreamProvider, link.provider_id)
    return provider.slug if provider else None


def _view(link: FederatedIdentity, provider: ProviderView) -> IdentityView:
    return IdentityView(
        id=link.id,
        provider_slug=provider.slug,
        provider_name=provider.display_name,
        provider_kind=provider.kind,
        issuer=link.issuer,
        subject=link.subject,
        email=link.email,
        created_at=link.created_at,
        last_used_at=link.last_used_at,
    )


def _count(
    usage: UsageRecorder | None, tenant: TenantView, attempt: Attempt | None, metric: str
) -> None:
    if usage is not None:
        usage.record_federation(tenant.id, attempt.client_id if attempt else None, metric)


def _audit(
    uow: UnitOfWork,
    tenant: TenantView,
    attempt: Attempt | None,
    action: str,
    subject: str | None,
    provider: ProviderView,
    outcome: str,
    reason: str | None = None,
    auto: bool | None = None,
) -> None:
    details: dict[str, object] = {"method": "federation", "provider": provider.slug}
    if reason:
        details["reason"] = reason
    if auto is not None:
        details["automatic"] = auto
    if attempt and attempt.client_id:
        details["client_id"] = attempt.client_id
    record_event(
        uow,
        AuditEntry(
            action=action,
            actor=f"user:{subject}" if subject and outcome == SUCCESS else "anonymous",
            tenant_id=tenant.id,
            target_type="user" if subject else None,
            target_id=subject,
            outcome=outcome,
            client_ip=attempt.ip if attempt else None,
            request_id=attempt.request_id if attempt else None,
            details=details,
        ),
    )
