"""The person's own login sessions on the account page (issue 9 §6): where they are signed in,
and ending one or all the others.

Ending a session here is a sign-out of that browser: the session row goes, the logout tokens
its clients are owed are queued in the same transaction (OIDC Back-Channel Logout 1.0), and
the refresh tokens bound to it are revoked (offline_access families survive, as at logout,
services/signin/logout.py), all recorded in the database (DESIGN §3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, select

from idp.models.sessions import LoginSession
from idp.models.uow import UnitOfWork
from idp.services.accounts.password_reset import Attempt
from idp.services.accounts.self_service import audit_account_change
from idp.services.signin.session_clients import LogoutQueue, notices_for
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.refresh_tokens import revoke_session_refresh_tokens
from idp.services.tokens.revocations import Revocations

MAX_SID = 64

# (pattern, name) in the order to test them: Edge and Opera also say "Chrome", Chrome says
# "Safari". Only the family is named; versions say little to a person and change monthly.
BROWSERS = (
    (re.compile(r"Edg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
    (re.compile(r"^curl/"), "curl"),
    (re.compile(r"python-requests/"), "Python requests"),
)
SYSTEMS = (
    (re.compile(r"Android"), "Android"),
    (re.compile(r"iPhone|iPad|iPod"), "iOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Linux"), "Linux"),
)


@dataclass(frozen=True)
class SessionSummary:
    """One session as the page lists it; `browser`/`system` are None when not recognised."""

    sid: str
    browser: str | None
    system: str | None
    ip_address: str | None
    signed_in_at: datetime
    last_seen_at: datetime
    current: bool


def describe_user_agent(user_agent: str | None) -> tuple[str | None, str | None]:
    """The browser and operating system a User-Agent names, in plain words."""
    text = user_agent or ""
    browser = next((name for pattern, name in BROWSERS if pattern.search(text)), None)
    system = next((name for pattern, name in SYSTEMS if pattern.search(text)), None)
    return browser, system


def list_sessions(
    uow: UnitOfWork, tenant: TenantView, session: SessionView
) -> list[SessionSummary]:
    """The person's live sessions, this browser's first, then the most recently used."""
    now = datetime.now(UTC)
    with uow:
        rows = uow.session.scalars(
            select(LoginSession).where(
                LoginSession.tenant_id == tenant.id,
                LoginSession.user_id == session.user_id,
                LoginSession.expires_at > now,
            )
        ).all()
        found = [
            SessionSummary(
                row.sid,
                *describe_user_agent(row.user_agent),
                row.ip_address,
                row.auth_time,
                row.last_seen_at or row.auth_time,
                row.sid == session.sid,
            )
            for row in rows
        ]
    return sorted(found, key=lambda s: (not s.current, -s.last_seen_at.timestamp()))


def end_sessions(
    uow: UnitOfWork,
    revocations: Revocations,
    backchannel: LogoutQueue,
    issuer: str,
    tenant: TenantView,
    session: SessionView,
    sid: str | None,
    attempt: Attempt,
) -> int:
    """End the person's session `sid`, or every one but this browser's when `sid` is None.
    Returns how many ended (0: already gone, or not theirs: nothing to say to a stranger)."""
    if sid is not None and (not sid or len(sid) > MAX_SID):
        return 0
    mine = and_(LoginSession.tenant_id == tenant.id, LoginSession.user_id == session.user_id)
    which = LoginSession.sid == sid if sid is not None else LoginSession.sid != session.sid
    with uow:
        ending = list(uow.session.scalars(select(LoginSession).where(mine, which)))
        notices = notices_for(uow, tenant.id, session.subject, and_(mine, which))
        for row in ending:
            uow.session.delete(row)
        backchannel.queue(uow.session, issuer, tenant, notices)
        sids = [row.sid for row in ending]
        uow.commit()
    if not sids:
        return 0
    backchannel.wake()
    for ended in sids:
        revoke_session_refresh_tokens(uow, revocations, tenant, ended)
    action = "user.session_end" if sid is not None else "user.sessions_end_others"
    audit_account_change(uow, tenant, action, session.subject, attempt, {"sids": sids})
    return len(sids)
