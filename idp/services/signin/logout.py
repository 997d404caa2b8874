"""OpenID Connect RP-Initiated Logout 1.0: which logout requests to trust, and signing out.

A logout request is a link anyone can send, so nothing in it is believed without proof: the
`id_token_hint` must be an ID token we signed for this tenant, the client it names must agree
with `client_id`, and the person is sent back only to a `post_logout_redirect_uri` that client
registered, compared exactly (§3). The person is asked to confirm unless the hint proves the
client knows the very session being ended (§2).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select

from idp.crypto.keys import KeyRing
from idp.crypto.secrets import digest
from idp.models.lookups import ClientLookup
from idp.models.sessions import LoginSession
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.audit import AuditEntry, record_event
from idp.services.oauth_clients.clients import ClientView, lookup_client
from idp.services.signin.session_clients import LogoutNotice, LogoutQueue, notices_for
from idp.services.signin.sessions import MAX_COOKIE, Attempt
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.id_tokens import IdTokenHint, read_id_token_hint
from idp.services.tokens.refresh_tokens import revoke_session_refresh_tokens
from idp.services.tokens.revocations import Revocations

MAX_CLIENT_ID = 64  # the column's width: anything longer names no client
MAX_STATE = 512  # as for `state` at the authorization endpoint


class LogoutRefused(Exception):
    """A request we must not act on, e.g. an unregistered redirect: shown on our own page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LogoutParams:
    """The request's parameters as sent (§2), each at most once."""

    id_token_hint: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None
    client_id: str | None = None
    # Accepted and not needed: the session cookie says who signs out, and the pages are English.
    logout_hint: str | None = None
    ui_locales: str | None = None


@dataclass(frozen=True)
class LogoutRequest:
    """A checked request: the client, if known, and where the person may be sent afterwards."""

    params: LogoutParams
    hint: IdTokenHint | None
    client: ClientView | None
    redirect_uri: str | None

    def proves_session(self, sid: str | None) -> bool:
        """The hint was issued from the session `sid`: the client knows it, no need to ask (§2)."""
        return self.hint is not None and sid is not None and self.hint.sid == sid

    def destination(self) -> str | None:
        """The registered redirect URI with `state` added (§3), or None: show our own page."""
        if self.redirect_uri is None:
            return None
        if self.params.state is None:
            return self.redirect_uri
        separator = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{separator}{urlencode({'state': self.params.state})}"


@dataclass(frozen=True)
class EndedSession:
    sid: str
    subject: str
    notices: list[LogoutNotice]


def check_logout_request(
    ring: KeyRing, lookup: ClientLookup, tenant: TenantView, issuer: str, params: LogoutParams
) -> LogoutRequest:
    """The request with its client and redirect checked, or LogoutRefused.

    A hint we did not sign is ignored rather than refused: the person can still sign out, only
    after confirming, and the client must then be named by `client_id` to be redirected to.
    """
    hint = read_id_token_hint(ring, issuer, params.id_token_hint) if params.id_token_hint else None
    hinted = hint.client_id if hint else None
    if params.client_id and hinted and params.client_id != hinted:
        # §2: the client_id must be the one the ID token was issued to.
        raise LogoutRefused("The application and the sign-in it names do not match.")
    client_id = params.client_id or hinted
    client = None
    if client_id and len(client_id) <= MAX_CLIENT_ID:
        client = lookup_client(lookup, tenant.id, client_id)
    if params.client_id and client is None:
        raise LogoutRefused("The application that sent you here is not known to this service.")
    uri = params.post_logout_redirect_uri
    if uri is not None and (client is None or uri not in client.post_logout_redirect_uris):
        # §3: exact match with a registered URI, or no redirect at all.
        raise LogoutRefused(
            "The application asked to send you to an address it has not registered."
        )
    if params.state is not None and len(params.state) > MAX_STATE:
        raise LogoutRefused(f"The state parameter is longer than {MAX_STATE} characters.")
    return LogoutRequest(params, hint, client, uri)


def sign_out(
    uow: UnitOfWork,
    revocations: Revocations,
    backchannel: LogoutQueue,
    issuer: str,
    tenant: TenantView,
    cookie: str | None,
    attempt: Attempt,
) -> EndedSession | None:
    """End the session the cookie names and the refresh tokens bound to it, then tell its
    clients in the background (OIDC Back-Channel Logout 1.0).

    None when there was no session to end (already signed out, or signed out elsewhere).
    """
    ended = end_login_session(uow, tenant, cookie, backchannel, issuer)
    if ended is None:
        return None
    revoke_session_refresh_tokens(uow, revocations, tenant, ended.sid)
    record_event(
        uow,
        AuditEntry(
            action="user.sign_out",
            actor=f"user:{ended.subject}",
            tenant_id=tenant.id,
            target_type="user",
            target_id=ended.subject,
            client_ip=attempt.ip,
            request_id=attempt.request_id,
            details={"method": "rp_initiated_logout", "client_id": attempt.client_id},
        ),
    )
    return ended


def end_login_session(
    uow: UnitOfWork,
    tenant: TenantView,
    cookie: str | None,
    backchannel: LogoutQueue,
    issuer: str,
) -> EndedSession | None:
    """Delete the session the cookie names and queue the logout tokens it owes, in one
    transaction: a session ended is a session whose clients will be told."""
    if not cookie or len(cookie) > MAX_COOKIE:
        return None
    with uow:
        found = uow.session.execute(
            select(LoginSession, User.subject)
            .join(User, User.id == LoginSession.user_id)
            .where(
                LoginSession.tenant_id == tenant.id, LoginSession.cookie_digest == digest(cookie)
            )
        ).first()
        if found is None:
            return None
        login, subject = found
        ended = EndedSession(
            login.sid, subject, notices_for(uow, tenant.id, subject, LoginSession.id == login.id)
        )
        uow.login_sessions.remove(tenant.id, login.cookie_digest)
        backchannel.queue(uow.session, issuer, tenant, ended.notices)
        uow.commit()
    backchannel.wake()
    return ended
