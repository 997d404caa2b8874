"""Native sign-in of a first-party app (draft-ietf-oauth-first-party-apps): what follows a
right password at the Authorization Challenge Endpoint (idp/oauth/challenge.py), and the
`auth_session` that carries a sign-in from the password to its second factor.

The password step is the hosted login's own (sessions.SignIn: decoy hash, lockout, e-mail
policy, audit, usage), and it opens a login session like the hosted one, only without a cookie:
nobody ever holds its id. The session is what the code, the tokens and their refresh family
are bound to (`sid`), so the person sees the app on the account page's list of sessions, and
ending it there, or signing out everywhere, treats the app as any client of that session
(refresh tokens bound to it revoked, back-channel logout: session_clients.py).

Then, as at the authorization endpoint (factors/policy.py), a second factor may be due:
- the person has a TOTP authenticator: `insufficient_authorization` with an `auth_session`,
  and the app posts the code (or a recovery code) with it;
- only a passkey would do (acr "3" demanded, or a person with passkeys and no TOTP), or the
  policy requires a factor the person has not enrolled: `redirect_to_web`, since the app can
  do neither natively.
First-party clients are the tenant's own: no consent step.

An `auth_session` is opaque (256 bits), lives AUTH_SESSION_LIFETIME seconds in the short-lived
store under its digest, is bound to the tenant and the client, and is spent by every follow-up
(one atomic `take`): a wrong code gets a fresh one, so a copy of an old one is worthless.
Its loss only makes the app start over (DESIGN §3).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from idp.crypto.secrets import digest
from idp.models.uow import UnitOfWork
from idp.services.factors import totp
from idp.services.factors.policy import demanded_acr
from idp.services.factors.second_step import second_factor_pending
from idp.services.signin.authorization import issue_code_for_session
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.claims import PHISHING_RESISTANT_ACR, ClaimsRequest
from idp.stores import ShortLivedStore

AUTH_SESSION_LIFETIME = 300
MAX_AUTH_SESSION = 64
# The code of a challenge was sent to no redirect URI, so the token request names none: an empty
# binding is one the token endpoint does not compare (RFC 6749 §4.1.3 asks for `redirect_uri`
# only when the authorization request had one).
NO_REDIRECT_URI = ""


@dataclass(frozen=True)
class ChallengeRequest:
    """What the app asked for, checked: its client, scopes, PKCE challenge and `acr_values`."""

    client_id: str
    scopes: tuple[str, ...]
    code_challenge: str
    acr_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in whose first factor was right and whose second is due: what an auth_session
    names."""

    request: ChallengeRequest
    sid: str
    user_id: int
    subject: str
    auth_time: float
    amr: tuple[str, ...]

    def session(self, amr: tuple[str, ...]) -> SessionView:
        """The login session as it is after a further factor added `amr`."""
        when = datetime.fromtimestamp(self.auth_time, UTC)
        return SessionView(self.sid, self.user_id, self.subject, when, amr)


@dataclass(frozen=True)
class Issued:
    """The challenge is met: the authorization code for the token endpoint."""

    code: str


@dataclass(frozen=True)
class SecondFactorDue:
    """`insufficient_authorization`: the app posts a TOTP or recovery code with this."""

    auth_session: str


@dataclass(frozen=True)
class WebNeeded:
    """`redirect_to_web`: something only the browser can do (`reason` is for the app's log)."""

    reason: str


Outcome = Issued | SecondFactorDue | WebNeeded


class AuthSessions:
    """Pending sign-ins by auth_session, in the short-lived store."""

    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store

    @staticmethod
    def _key(tenant_id: int, handle: str) -> str:
        return f"authz-challenge:{tenant_id}:{digest(handle)}"

    def open(self, tenant_id: int, pending: PendingSignIn) -> str:
        handle = secrets.token_urlsafe(32)
        raw = json.dumps(asdict(pending), separators=(",", ":"))
        self._store.put(self._key(tenant_id, handle), raw, AUTH_SESSION_LIFETIME)
        return handle

    def take(self, tenant_id: int, client_id: str, handle: str) -> PendingSignIn | None:
        """The pending sign-in, once, if it is this client's; spent either way."""
        if not handle or len(handle) > MAX_AUTH_SESSION:
            return None
        raw = self._store.take(self._key(tenant_id, handle))
        if raw is None:
            return None
        data = json.loads(raw)
        request = data.pop("request")
        pending = PendingSignIn(
            request=ChallengeRequest(
                request["client_id"],
                tuple(request["scopes"]),
                request["code_challenge"],
                tuple(request["acr_values"]),
            ),
            sid=data["sid"],
            user_id=data["user_id"],
            subject=data["subject"],
            auth_time=data["auth_time"],
            amr=tuple(data["amr"]),
        )
        return pending if pending.request.client_id == client_id else None


def continue_sign_in(
    uow: UnitOfWork,
    store: ShortLivedStore,
    tenant: TenantView,
    request: ChallengeRequest,
    session: SessionView,
) -> Outcome:
    """After a factor succeeded: the code, or what is still missing and how the app gives it."""
    demanded = demanded_acr(request.acr_values, ())
    if not second_factor_pending(uow, tenant.id, tenant.mfa_policy, session, demanded):
        return Issued(issue_code(uow, store, tenant, request, session))
    if demanded == PHISHING_RESISTANT_ACR:
        return WebNeeded("A passkey is required: sign in in the browser.")
    if not totp.is_enrolled(uow, tenant.id, session.user_id):
        return WebNeeded("A second factor this app cannot take is due: use the browser.")
    pending = PendingSignIn(
        request,
        session.sid,
        session.user_id,
        session.subject,
        session.auth_time.timestamp(),
        session.amr,
    )
    return SecondFactorDue(AuthSessions(store).open(tenant.id, pending))


def issue_code(
    uow: UnitOfWork,
    store: ShortLivedStore,
    tenant: TenantView,
    request: ChallengeRequest,
    session: SessionView,
) -> str:
    """The single-use authorization code of the code flow, bound to the session, the PKCE
    challenge and no redirect URI; its `acr_values` reach the ID token."""
    return issue_code_for_session(
        uow,
        store,
        tenant.id,
        session,
        client_id=request.client_id,
        redirect_uri=NO_REDIRECT_URI,
        scopes=request.scopes,
        code_challenge=request.code_challenge,
        claims=ClaimsRequest(acr_values=request.acr_values),
    )
