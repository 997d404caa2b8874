"""Initial access tokens (RFC 7591 §3): what a tenant hands a developer so they may register
clients at its registration endpoint without anyone else being able to.

Like every other secret (DESIGN §6): 256 random bits behind `idp_iat_`, shown once, stored as a
SHA-256 digest, found by an exact match on that digest. Each may expire and may be limited to a
number of registrations; a use is counted by one guarded UPDATE in the registration's own
transaction (services/oauth_clients/registration.py), so the last use cannot be spent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idp.crypto.secrets import INITIAL_ACCESS_TOKEN_PREFIX, digest, new_identifier, new_secret
from idp.models.registration import InitialAccessToken
from idp.models.registration_repository import InitialAccessTokens
from idp.models.uow import UnitOfWork
from idp.services.errors import InvalidInput, NotFound
from idp.services.tenancy.tenants import TenantView

MAX_USES = 1_000_000
MAX_PRESENTED = 100  # longer than any token we issue: not worth a digest


@dataclass(frozen=True)
class InitialAccessTokenView:
    token_id: str
    name: str | None
    last_four: str
    expires_at: datetime | None
    max_uses: int | None
    uses: int
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, token: InitialAccessToken) -> InitialAccessTokenView:
        return cls(
            token_id=token.token_id,
            name=token.name,
            last_four=token.last_four,
            expires_at=token.expires_at,
            max_uses=token.max_uses,
            uses=token.uses,
            created_by=token.created_by,
            created_at=token.created_at,
        )

    def is_live(self, now: datetime) -> bool:
        unexpired = self.expires_at is None or self.expires_at > now
        return unexpired and (self.max_uses is None or self.uses < self.max_uses)

    def public_dict(self) -> dict[str, Any]:
        return {
            "id": self.token_id,
            "name": self.name,
            "hint": f"{INITIAL_ACCESS_TOKEN_PREFIX}…{self.last_four}",
            "expires_at": _iso(self.expires_at),
            "max_uses": self.max_uses,
            "uses": self.uses,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class IssuedInitialAccessToken:
    token: InitialAccessTokenView
    secret: str  # the only time the token exists in clear


def create_initial_access_token(
    uow: UnitOfWork,
    tenant: TenantView,
    created_by: str,
    name: str | None = None,
    expires_at: datetime | None = None,
    max_uses: int | None = None,
) -> IssuedInitialAccessToken:
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("name", "must be 1-200 characters")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput("expires_at", "must be in the future")
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        raise InvalidInput("max_uses", f"must be 1-{MAX_USES}")
    secret = new_secret(INITIAL_ACCESS_TOKEN_PREFIX)
    with uow:
        token = InitialAccessTokens(uow.session).add(
            InitialAccessToken(
                token_id=new_identifier(12),
                tenant_id=tenant.id,
                name=name,
                digest=digest(secret),
                last_four=secret[-4:],
                expires_at=expires_at,
                max_uses=max_uses,
                created_by=created_by,
            )
        )
        uow.commit()
        return IssuedInitialAccessToken(InitialAccessTokenView.of(token), secret)


def list_initial_access_tokens(uow: UnitOfWork, tenant: TenantView) -> list[InitialAccessTokenView]:
    with uow:
        tokens = InitialAccessTokens(uow.session).list(tenant.id)
        return [InitialAccessTokenView.of(token) for token in tokens]


def get_initial_access_token(
    uow: UnitOfWork, tenant: TenantView, token_id: str
) -> InitialAccessTokenView:
    with uow:
        token = InitialAccessTokens(uow.session).get(tenant.id, token_id)
        if token is None:
            raise NotFound(f"no initial access token '{token_id}'")
        return InitialAccessTokenView.of(token)


def delete_initial_access_token(uow: UnitOfWork, tenant: TenantView, token_id: str) -> None:
    """Revoke by deleting: clients already registered with it stay registered."""
    with uow:
        tokens = InitialAccessTokens(uow.session)
        token = tokens.get(tenant.id, token_id)
        if token is None:
            raise NotFound(f"no initial access token '{token_id}'")
        tokens.delete(token)
        uow.commit()


def find_live_token(
    uow: UnitOfWork, tenant_id: int, presented: str
) -> InitialAccessTokenView | None:
    """The live token of this tenant matching `presented`, or None (unknown, expired, used up).

    A read only: the use is counted when the registration is written. The lookup is an exact
    match on the digest, so its timing says nothing about how close a guess was.
    """
    if not presented.startswith(INITIAL_ACCESS_TOKEN_PREFIX) or len(presented) > MAX_PRESENTED:
        return None
    with uow:
        token = InitialAccessTokens(uow.session).by_digest(tenant_id, digest(presented))
        view = InitialAccessTokenView.of(token) if token else None
    return view if view and view.is_live(datetime.now(UTC)) else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
