"""A client application registered with one tenant (RFC 7591 client metadata)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the secret (DESIGN §6); None for public and private_key_jwt clients.
    secret_digest: Mapped[str | None] = mapped_column(String(64))
    # After a rotation with an overlap window, the old secret keeps working until then, so a
    # fleet of client instances can switch over without an outage.
    previous_secret_digest: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None]
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    response_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # RFC 8707 resource indicators this client may ask tokens for; the first is the default.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(Text)
    access_token_lifetime: Mapped[int | None]
    id_token_signed_response_alg: Mapped[str | None] = mapped_column(String(10))
    access_token_signed_alg: Mapped[str | None] = mapped_column(String(10))
    # A resource server may introspect every token of its tenant, not only its own.
    is_resource_server: Mapped[bool] = mapped_column(default=False)
    # RFC 7592: SHA-256 of the registration access token of a dynamically registered client;
    # None for clients made through the management API or the `idp` command.
    registration_token_digest: Mapped[str | None] = mapped_column(String(64))
    # OIDC Registration §2: "web" or "native"; native clients may use RFC 8252 loopback
    # redirects on any port.
    application_type: Mapped[str] = mapped_column(String(10), default="web", server_default="web")
    # OIDC Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed, and whether they must
    # carry the session's `sid`.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    # Browser origins (scheme://host[:port]) allowed to call the token, userinfo, JWKS and
    # revocation endpoints cross-origin (CORS); empty: none.
    allowed_cors_origins: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # A first-party client: the person is never asked to consent to it.
    skip_consent: Mapped[bool] = mapped_column(default=False, server_default=false())
    # OAuth 2.0 for First-Party Applications (draft-ietf-oauth-first-party-apps): the client
    # may post a person's credentials to the Authorization Challenge Endpoint. Only an admin
    # can set it; a dynamically registered client never is one.
    first_party: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Shown on the consent page (RFC 7591 `logo_uri`).
    logo_uri: Mapped[str | None] = mapped_column(Text)
    # Refresh tokens even without the `offline_access` scope (client policy, issue 3 §3).
    always_issue_refresh_token: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"
