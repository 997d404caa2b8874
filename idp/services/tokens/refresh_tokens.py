"""Refresh tokens (RFC 6749 §6, RFC 9700 §4.14, DESIGN §5): issued, rotated, revoked by family.

A *family* is every refresh token rotated from one authorization code. Each use spends the
presented token and returns its successor; presenting a spent token again means two parties hold
it, so the whole family dies (RFC 9700 §4.14.2) and `token.reuse_detected` is audited. Only
digests are stored (DESIGN §6).

A client whose response was lost may retry within `tokens.refresh_token_reuse_grace_seconds`
and gets the same successor, not a fork. The database keeps no usable copy of it, so the
response waits in the short-lived store, sealed with a key only the presented token yields.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from idp.crypto.kek import Kek, KekError
from idp.crypto.secrets import digest, new_identifier, new_secret
from idp.models.lookups import RefreshTokenLookup
from idp.models.refresh_tokens import RefreshTokens, RefreshTokenState
from idp.models.uow import UnitOfWork
from idp.services.audit import DENIED, AuditEntry, record_event
from idp.services.oauth_clients.clients import ClientView
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.access_tokens import IssuedAccessToken
from idp.services.tokens.claims import ClaimsRequest
from idp.services.tokens.revocations import Revocations
from idp.stores import ShortLivedStore

REFRESH_TOKEN_PREFIX = "idp_rt_"
MAX_REFRESH_TOKEN = 128
# OIDC Core §11: the scope that asks for access while the person is not signed in.
OFFLINE_ACCESS = "offline_access"
REUSE_DETECTED = "token.reuse_detected"
# Rows of expired families are purged by roughly one new family in PURGE_ONE_IN, per tenant,
# as the SQL store purges its entries: no background job to deploy.
PURGE_ONE_IN = 100

log = logging.getLogger(__name__)


class RefreshRefused(Exception):
    """The token is unknown, another client's, expired, spent or revoked: RFC 6749 §5.2
    `invalid_grant`. The message is safe to show the client."""


class ScopeNotGranted(Exception):
    """A scope asked for at refresh was not in the original grant: `invalid_scope` (§6)."""


@dataclass(frozen=True)
class FamilyGrant:
    """What the person authorised, carried unchanged by every token of a family."""

    client_id: str
    subject: str
    scopes: tuple[str, ...]
    sid: str
    auth_time: int
    amr: tuple[str, ...]
    claims: ClaimsRequest = field(default_factory=ClaimsRequest)


@dataclass(frozen=True)
class TokenResponse:
    """A token response built for a refresh, and the access token in it (revoked with the
    family)."""

    body: dict[str, Any]
    access_token: IssuedAccessToken


@dataclass(frozen=True)
class IssuedRefreshToken:
    token: str  # the only time it exists in clear
    family_id: str
    family_expires_at: datetime


@dataclass(frozen=True)
class Origin:
    """Where a request comes from, for the audit log."""

    client_ip: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class RefreshTokenView:
    """A refresh token as introspection (RFC 7662) and revocation (RFC 7009) see it."""

    family_id: str
    client_id: str
    subject: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    active: bool


def should_issue_refresh_token(client: ClientView, scopes: Sequence[str]) -> bool:
    """Only to a client registered for the grant, when asked for (`offline_access`) or when the
    client's policy says always."""
    wanted = OFFLINE_ACCESS in scopes or client.always_issue_refresh_token
    return wanted and "refresh_token" in client.grant_types


def looks_like_refresh_token(token: str) -> bool:
    return token.startswith(REFRESH_TOKEN_PREFIX) and len(token) <= MAX_REFRESH_TOKEN


def start_family(
    uow: UnitOfWork,
    tenant: TenantView,
    grant: FamilyGrant,
    access_token: IssuedAccessToken,
) -> IssuedRefreshToken:
    """The first refresh token of a new family.

    One INSERT ... SELECT writes the row with the person's row id read from their `sub` (the
    token endpoint has just read the person), as a Core statement, as a rotation writes its
    successor: the ORM's flush of a new object was most of this function's CPU. A person
    deleted a moment ago matches no row, so still gets no family.
    """
    now = _now()
    token = new_secret(REFRESH_TOKEN_PREFIX)
    family_id = new_identifier(24)
    family_expires_at = now + timedelta(seconds=tenant.refresh_token_absolute_lifetime)
    with uow:
        written = RefreshTokens(uow.session).insert_first(
            grant.subject,
            tenant_id=tenant.id,
            family_id=family_id,
            token_digest=digest(token),
            client_id=grant.client_id,
            scopes=list(grant.scopes),
            sid=grant.sid,
            auth_time=datetime.fromtimestamp(grant.auth_time, UTC),
            amr=list(grant.amr),
            claims=asdict(grant.claims),
            offline=OFFLINE_ACCESS in grant.scopes,
            issued_at=now,
            family_expires_at=family_expires_at,
            expires_at=_idle_expiry(tenant, now, family_expires_at),
            used_at=None,
            successor_digest=None,
            revoked_at=None,
            access_token_jti=access_token.jti,
            access_token_expires_at=datetime.fromtimestamp(access_token.exp, UTC),
        )
        if not written:
            raise RefreshRefused("The person this grant was issued for no longer exists.")
        uow.commit()
    issued = IssuedRefreshToken(token, family_id, family_expires_at)
    if random.randrange(PURGE_ONE_IN) == 0:  # noqa: S311 - housekeeping, not security
        purge_expired_families(uow, tenant)
    return issued


def purge_expired_families(uow: UnitOfWork, tenant: TenantView) -> int:
    """Remove the tenant's families past their absolute lifetime (dead for good)."""
    with uow:
        purged = RefreshTokens(uow.session).purge_expired(tenant.id, _now())
        uow.commit()
    return purged


def rotate(
    uow: UnitOfWork,
    lookup: RefreshTokenLookup,
    store: ShortLivedStore,
    revocations: Revocations,
    tenant: TenantView,
    client_id: str,
    presented: str,
    asked_scopes: Sequence[str] | None,
    respond: Callable[[FamilyGrant, tuple[str, ...]], TokenResponse],
    grace_seconds: int,
    origin: Origin,
) -> dict[str, Any]:
    """Spend `presented` and return the token response with its successor (RFC 6749 §6).

    `respond` builds the access token (and ID token) for the grant and the scopes granted now;
    it may raise RefreshRefused. Of concurrent calls with one token, one guarded UPDATE decides
    the winner; the others, like a retry within the grace window, get the winner's response.
    """
    if not looks_like_refresh_token(presented):
        raise RefreshRefused("The refresh token is invalid.")
    token_digest = digest(presented)
    token = _presented(lookup, tenant, client_id, token_digest)
    if token.used_at is None:
        body = _rotate_unused(
            uow, store, tenant, presented, token, asked_scopes, respond, grace_seconds
        )
        if body is not None:
            return body
        token = _presented(lookup, tenant, client_id, token_digest)  # lost the race
    return _spent(uow, store, revocations, tenant, presented, token, grace_seconds, origin)


def find_refresh_token(
    uow: UnitOfWork, tenant: TenantView, presented: str
) -> RefreshTokenView | None:
    """The unrevoked refresh token `presented` names at this tenant, spent or not, or None."""
    if not looks_like_refresh_token(presented):
        return None
    with uow:
        token = RefreshTokens(uow.session).state(tenant.id, digest(presented))
    if token is None or token.revoked_at is not None:
        return None
    return RefreshTokenView(
        family_id=token.family_id,
        client_id=token.client_id,
        subject=token.subject,
        scopes=token.scopes,
        issued_at=token.issued_at,
        expires_at=token.expires_at,
        active=token.used_at is None and token.expires_at > _now() and token.user_active,
    )


def revoke_family(
    uow: UnitOfWork, revocations: Revocations, tenant: TenantView, family_id: str
) -> None:
    """Revoke every refresh token of the family and the access tokens issued with them."""
    _revoke(uow, revocations, tenant, lambda tokens: [family_id])


def revoke_refresh_tokens_of_person(
    uow: UnitOfWork, revocations: Revocations, tenant: TenantView, subject: str
) -> None:
    """Every refresh token family of the person: signed out everywhere, deactivated, deleted."""

    def families(tokens: RefreshTokens) -> list[str]:
        user = uow.users.by_subject(tenant.id, subject)
        return tokens.live_families(tenant.id, user_id=user.id) if user else []

    _revoke(uow, revocations, tenant, families)


def revoke_client_refresh_tokens(
    uow: UnitOfWork, revocations: Revocations, tenant: TenantView, user_id: int, client_id: str
) -> None:
    """Every family the person granted one client: they revoked that app's access."""
    _revoke(
        uow,
        revocations,
        tenant,
        lambda tokens: tokens.live_families(tenant.id, user_id=user_id, client_id=client_id),
    )


def revoke_session_refresh_tokens(
    uow: UnitOfWork, revocations: Revocations, tenant: TenantView, sid: str
) -> None:
    """The families bound to the login session `sid`, when it ends (logout).

    Families granted `offline_access` survive: outliving the session is what they were asked
    for (OIDC Core §11).
    """
    _revoke(
        uow,
        revocations,
        tenant,
        lambda tokens: tokens.live_families(tenant.id, sid=sid, offline=False),
    )


def _presented(
    lookup: RefreshTokenLookup, tenant: TenantView, client_id: str, token_digest: str
) -> RefreshTokenState:
    """The token, if it may be presented by this client at all: read outside the unit of work,
    since what follows is decided by the guarded UPDATE of `_rotate_unused`, not by this read."""
    token = lookup.state(tenant.id, token_digest)
    # One answer for unknown and another client's token: it tells the caller nothing.
    if token is None or token.client_id != client_id:
        raise RefreshRefused("The refresh token is invalid.")
    if token.revoked_at is not None:
        raise RefreshRefused("The refresh token was revoked.")
    return token


def _rotate_unused(
    uow: UnitOfWork,
    store: ShortLivedStore,
    tenant: TenantView,
    presented: str,
    token: RefreshTokenState,
    asked_scopes: Sequence[str] | None,
    respond: Callable[[FamilyGrant, tuple[str, ...]], TokenResponse],
    grace_seconds: int,
) -> dict[str, Any] | None:
    """The response with a successor, or None when a concurrent request spent the token first.

    Tokens are minted before the token is claimed: a loser's are discarded unseen, and the
    claim's transaction stays short (on SQLite it holds the database's write lock).

    The response is kept for retries *before* the claim commits, under a key naming this
    successor. A process killed between the two writes then leaves either nothing in the
    database (the retry rotates afresh; the orphan copy names a successor that was never
    stored and expires unread) or both, so a retry within the grace window always finds the
    successor the database recorded. In the other order, a crash after the commit would leave
    an honest retry nothing but "already used" and the family without a usable token.
    """
    if token.expires_at <= _now():
        raise RefreshRefused("The refresh token has expired.")
    if not token.user_active:
        raise RefreshRefused("The person this token was issued for cannot sign in.")
    scopes = _narrowed(token.scopes, asked_scopes)
    grant = FamilyGrant(
        client_id=token.client_id,
        subject=token.subject,
        scopes=token.scopes,
        sid=token.sid,
        auth_time=int(token.auth_time.timestamp()),
        amr=tuple(token.amr),
        claims=ClaimsRequest.of(token.claims),
    )
    response = respond(grant, scopes)
    successor = new_secret(REFRESH_TOKEN_PREFIX)
    body = response.body | {"refresh_token": successor}
    _keep_for_retries(store, tenant, presented, digest(successor), body, grace_seconds)
    now = _now()
    with uow:
        tokens = RefreshTokens(uow.session)
        if not tokens.claim(tenant.id, token.token_digest, digest(successor), now):
            return None
        tokens.insert(
            tenant_id=tenant.id,
            family_id=token.family_id,
            token_digest=digest(successor),
            client_id=token.client_id,
            user_id=token.user_id,
            # RFC 6749 §6: the new refresh token keeps the original scope, even if the
            # access token was narrowed.
            scopes=list(token.scopes),
            sid=token.sid,
            auth_time=token.auth_time,
            amr=list(token.amr),
            claims=dict(token.claims),
            offline=token.offline,
            issued_at=now,
            family_expires_at=token.family_expires_at,
            expires_at=_idle_expiry(tenant, now, token.family_expires_at),
            used_at=None,
            successor_digest=None,
            revoked_at=None,
            access_token_jti=response.access_token.jti,
            access_token_expires_at=datetime.fromtimestamp(response.access_token.exp, UTC),
        )
        uow.commit()
    return body


def _spent(
    uow: UnitOfWork,
    store: ShortLivedStore,
    revocations: Revocations,
    tenant: TenantView,
    presented: str,
    token: RefreshTokenState,
    grace_seconds: int,
    origin: Origin,
) -> dict[str, Any]:
    """A spent token again: the same successor within the grace window, else theft."""
    used_at = token.used_at or _now()
    if _now() - used_at <= timedelta(seconds=grace_seconds) and _successor_unused(
        uow, tenant, token
    ):
        body = _kept_for_retries(store, tenant, presented, token.successor_digest)
        if body is not None:
            return body
        # Within the window but the response is gone (store evicted it): refuse, and leave
        # the family alone; its current token is most likely with the rightful client.
        raise RefreshRefused("The refresh token was already used.")
    _revoke(uow, revocations, tenant, lambda tokens: [token.family_id])
    _audit_reuse(uow, tenant, token, origin)
    raise RefreshRefused("The refresh token was already used; the grant is revoked.")


def _successor_unused(uow: UnitOfWork, tenant: TenantView, token: RefreshTokenState) -> bool:
    """Only the immediately previous token may be retried: once its successor was used too,
    a retry can only come from someone holding an old copy."""
    if token.successor_digest is None:
        return False
    with uow:
        successor = RefreshTokens(uow.session).by_digest(tenant.id, token.successor_digest)
        return successor is not None and successor.used_at is None and successor.revoked_at is None


def _narrowed(granted: tuple[str, ...], asked: Sequence[str] | None) -> tuple[str, ...]:
    """RFC 6749 §6: the scope asked for may only narrow the original grant."""
    if asked is None:
        return granted
    widened = [scope for scope in asked if scope not in granted]
    if widened:
        raise ScopeNotGranted(f"Not in the original grant: {' '.join(widened)}")
    return tuple(dict.fromkeys(asked))


def _revoke(
    uow: UnitOfWork,
    revocations: Revocations,
    tenant: TenantView,
    families_of: Callable[[RefreshTokens], list[str]],
) -> None:
    """Revoke the families `families_of` picks, then the access tokens issued with them."""
    now = _now()
    with uow:
        tokens = RefreshTokens(uow.session)
        families = families_of(tokens)
        access_tokens = tokens.access_tokens_of(tenant.id, families, now)
        tokens.revoke_families(tenant.id, families, now)
        uow.commit()
    # After the commit: the records are written through their own connection, which would wait
    # for this transaction's lock on SQLite.
    revocations.revoke_tokens(
        tenant.id, [(jti, expires_at.timestamp()) for jti, expires_at in access_tokens]
    )


def _audit_reuse(
    uow: UnitOfWork, tenant: TenantView, token: RefreshTokenState, origin: Origin
) -> None:
    entry = AuditEntry(
        action=REUSE_DETECTED,
        actor=f"client:{token.client_id}",
        tenant_id=tenant.id,
        target_type="user",
        target_id=token.subject,
        outcome=DENIED,
        client_ip=origin.client_ip,
        request_id=origin.request_id,
        details={"client_id": token.client_id, "family": token.family_id},
    )
    try:
        record_event(uow, entry)
    except Exception:  # the family is revoked; a missing log row must not turn it into a 500
        log.exception("audit event %s not recorded", REUSE_DETECTED)


def _keep_for_retries(
    store: ShortLivedStore,
    tenant: TenantView,
    presented: str,
    successor_digest: str,
    body: dict[str, Any],
    grace: int,
) -> None:
    if grace > 0:
        key = _grace_key(tenant, presented, successor_digest)
        sealed = _sealer(presented).seal(_json(body), key)
        store.put(key, base64.b64encode(sealed).decode("ascii"), grace)


def _kept_for_retries(
    store: ShortLivedStore, tenant: TenantView, presented: str, successor_digest: str | None
) -> dict[str, Any] | None:
    """The response that rotated `presented` into `successor_digest`: written before that
    rotation committed, so whoever sees the commit finds it at once (unless the store lost it)."""
    if successor_digest is None:
        return None
    key = _grace_key(tenant, presented, successor_digest)
    raw = store.get(key)
    if raw is None:
        return None
    try:
        return _unjson(_sealer(presented).open(base64.b64decode(raw), key))
    except (KekError, ValueError):
        return None


def _sealer(presented: str) -> Kek:
    """AES-256-GCM under a key derived from the spent token: the store holds nothing readable,
    and only whoever presents that token again can open its successor. The token has 256 bits
    of entropy, so one HMAC-SHA256 is a sound key derivation."""
    return Kek(hmac.digest(presented.encode(), b"idp refresh-token grace", "sha256"))


def _grace_key(tenant: TenantView, presented: str, successor_digest: str) -> str:
    """One key per attempted rotation: concurrent requests with one token each write their
    own copy, and only the one whose successor the database recorded is ever read."""
    return f"refresh-grace:{tenant.id}:{digest(presented)}:{successor_digest}"


def _idle_expiry(tenant: TenantView, now: datetime, family_expires_at: datetime) -> datetime:
    return min(now + timedelta(seconds=tenant.refresh_token_idle_lifetime), family_expires_at)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _unjson(raw: bytes) -> dict[str, Any]:
    loaded = json.loads(raw)
    if not isinstance(loaded, dict):
        raise ValueError("not a token response")
    return loaded


def _now() -> datetime:
    return datetime.now(UTC)
