"""Browser sign-in state that outlives a request: login sessions and remembered consents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class LoginSession(Base):
    """A person signed in at one tenant in one browser.

    The browser holds a random session id in a cookie; only its SHA-256 digest is stored, so a
    copy of this table cannot be replayed as cookies. `sid` is a separate public identifier
    (the ID token's `sid` claim, OIDC Front/Back-Channel Logout), never the cookie value.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    cookie_digest: Mapped[str] = mapped_column(String(64), unique=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    auth_time: Mapped[datetime]
    # OIDC Core §2: how the person authenticated (RFC 8176 method names).
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the account page shows of each session (issue 9 §6): the browser and address it
    # was opened from, and when it was last used.
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    last_seen_at: Mapped[datetime | None]


class SessionClient(Base):
    """A client that received tokens from a login session: who to tell when it ends.

    OIDC Back-Channel Logout 1.0 §2.7 sends a logout token to each client "that has a session"
    with the OP; this is that record, one row per (session, client).
    """

    __tablename__ = "session_clients"
    __table_args__ = (UniqueConstraint("login_session_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login_session_id: Mapped[int] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """Scopes a person allowed a client, remembered so the consent page is skipped next time."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
