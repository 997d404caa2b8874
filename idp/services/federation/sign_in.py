"""The session an upstream sign-in opens, and what it records.

RFC 8176 has no value for "authenticated by another identity provider", so the session's `amr`
is our own `fed` (DESIGN §13, README): one factor, acr "1", whatever the upstream did (we
cannot verify how the person signed in there). Our MFA policy then applies as after a
password: the `/mfa` step follows when the tenant or the client demands a second factor.
"""

from __future__ import annotations

from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.audit import FAILED
from idp.services.errors import NotFound
from idp.services.federation.linking import FederatedSignIn
from idp.services.signin.sessions import (
    Attempt,
    SignedIn,
    audit_refused_sign_in,
    open_session,
)
from idp.services.tenancy.tenants import TenantView
from idp.services.tenancy.usage import FEDERATED_SIGN_INS, UsageRecorder

FEDERATION_AMR = "fed"  # our own amr value (DESIGN §13)
METHOD = "federation"  # the audit's method


def open_federated_session(
    uow: UnitOfWork,
    tenant: TenantView,
    signed: FederatedSignIn,
    previous_cookie: str | None,
    attempt: Attempt,
    usage: UsageRecorder | None,
) -> SignedIn:
    """A fresh session (sessions.open_session) for the user the linking rules chose."""
    with uow:
        user = uow.session.get(User, signed.user_id)
        if user is None or user.tenant_id != tenant.id:
            raise NotFound("the account is gone")
        cookie, view = open_session(
            uow, tenant, user, (FEDERATION_AMR,), previous_cookie, attempt, METHOD
        )
    if usage is not None:
        usage.record_sign_in(tenant.id, view.user_id, attempt.client_id)
        usage.record_federation(tenant.id, attempt.client_id, FEDERATED_SIGN_INS)
    return SignedIn(cookie, view, tenant.session_lifetime)


def audit_federation_failure(
    uow: UnitOfWork, tenant: TenantView, attempt: Attempt, provider: str, reason: str
) -> None:
    """A round trip that ended without a sign-in on the upstream's side (cancelled, an OAuth
    error, unreachable, an answer we could not trust): `user.sign_in`, failed, with the
    UpstreamError reason (federation/base.py). Nothing the upstream sent is recorded."""
    audit_refused_sign_in(uow, tenant, attempt, None, FAILED, f"{provider}: {reason}", METHOD)
