"""The account page as a first-party client of its own tenant (DESIGN §13, issue 9 §6).

Without a session, the account page does what any client does: an authorization request with
`state` and PKCE to our own authorization endpoint, so the person signs in on the login page
and every sign-in policy applies to the account page too. The client is built in, one per
tenant, made on first use: client_id `account` (ACCOUNT_CLIENT_ID; generated client ids are
random and longer, so none can collide with it), public, `skip_consent`, scope `openid`, redirect
URI `{issuer}/account/callback`. It is never a "connected app" of anyone.

The callback redeems the code with the same single-use redemption the token endpoint uses
(`Codes.redeem`) and checks the PKCE verifier (RFC 7636 §4.6) and the redirect URI; the code
must come from the session this browser now holds. The page then acts on that session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError

from idp.crypto.secrets import digest
from idp.models.uow import UnitOfWork
from idp.services.oauth_clients.clients import ClientSpec, built_in_client
from idp.services.signin.authorization import Codes
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.tenants import TenantView
from idp.stores import ShortLivedStore

ACCOUNT_CLIENT_ID = "account"
ACCOUNT_SCOPES = ("openid",)
# Long enough to sign in (a password manager, a forgotten password), short enough to expire.
PENDING_LIFETIME = 1800.0
MAX_PARAM = 512


class AccountSignInFailed(Exception):
    """The callback's state or code is missing, forged, replayed or expired."""


@dataclass(frozen=True)
class PendingSignIn:
    """Where to send the browser, and the `state` it must bring back (kept in its cookie)."""

    state: str
    authorize_url: str


def account_redirect_uri(issuer: str) -> str:
    return f"{issuer}/account/callback"


def ensure_account_client(uow: UnitOfWork, tenant: TenantView, issuer: str) -> None:
    """Create the tenant's account client if it does not exist yet, or point it at `issuer`
    again if the public URL changed. Two first requests at once: one insert wins, both go on."""
    redirect = account_redirect_uri(issuer)
    with uow:
        existing = uow.clients.get(tenant.id, ACCOUNT_CLIENT_ID)
        if existing is not None and list(existing.redirect_uris) == [redirect]:
            return
        if existing is not None:
            existing.redirect_uris = [redirect]
        else:
            spec = ClientSpec(
                name="Account",
                grant_types=("authorization_code",),
                redirect_uris=(redirect,),
                public=True,
                scopes=ACCOUNT_SCOPES,
                skip_consent=True,
            )
            uow.clients.add(built_in_client(tenant.id, ACCOUNT_CLIENT_ID, spec))
        try:
            uow.commit()
        except IntegrityError:
            uow.session.rollback()


def _pending_key(tenant: TenantView, state: str) -> str:
    return f"account-signin:{tenant.id}:{digest(state)}"


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))), unpadded."""
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode()


def begin_sign_in(
    store: ShortLivedStore, tenant: TenantView, issuer: str, return_to: str, fresh: bool = False
) -> PendingSignIn:
    """An authorization request for the account client; the verifier and the page to return
    to stay on our side, under the state's digest. `fresh` asks for a new sign-in with every
    factor (prompt=login), for changes that need one (switching two-step sign-in off)."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    pending = json.dumps({"verifier": verifier, "return_to": return_to})
    store.put(_pending_key(tenant, state), pending, PENDING_LIFETIME)
    params = {
        "response_type": "code",
        "client_id": ACCOUNT_CLIENT_ID,
        "redirect_uri": account_redirect_uri(issuer),
        "scope": " ".join(ACCOUNT_SCOPES),
        "state": state,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    if fresh:
        params["prompt"] = "login"
    return PendingSignIn(state, f"{issuer}/authorize?{urlencode(params)}")


def finish_sign_in(
    store: ShortLivedStore,
    tenant: TenantView,
    issuer: str,
    browser_state: str | None,
    state: str,
    code: str,
    session: SessionView | None,
) -> str:
    """The page the person first asked for, once the code proves this browser's session
    signed in for the account client. Raises AccountSignInFailed.

    The state must equal the one this browser was given (its cookie): a code and state lifted
    from someone else's callback do nothing here (RFC 9700 §4.7). Both are spent whatever the
    outcome.
    """
    if not state or len(state) > MAX_PARAM or not browser_state:
        raise AccountSignInFailed()
    if not hmac.compare_digest(state.encode(), browser_state.encode()):
        raise AccountSignInFailed()
    raw = store.take(_pending_key(tenant, state))
    if raw is None:
        raise AccountSignInFailed()
    pending = json.loads(raw)
    bound = Codes(store).redeem(tenant.id, code) if code and len(code) <= MAX_PARAM else None
    if (
        bound is None
        or bound.client_id != ACCOUNT_CLIENT_ID
        or bound.redirect_uri != account_redirect_uri(issuer)
        or bound.code_challenge is None
        or not hmac.compare_digest(bound.code_challenge, s256(pending["verifier"]))
        or session is None
        or session.sid != bound.sid
    ):
        raise AccountSignInFailed()
    return str(pending["return_to"])
