"""Management API keys and the principals that call the management API.

A key belongs to one tenant, or to the whole installation (a platform key, created only from the
command line; listed and revoked there or by a platform key). A key never creates a key wider
than itself: its scopes are a subset of the creator's, and a tenant key only creates keys of its
own tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from idp.crypto.secrets import API_KEY_PREFIX, digest, new_identifier, new_secret
from idp.models.api_keys import ApiKey
from idp.models.uow import UnitOfWork
from idp.services.errors import InvalidInput, NotFound
from idp.services.tenancy.tenants import TenantView

SCOPES = (
    "tenants:read",
    "tenants:write",
    "clients:read",
    "clients:write",
    "users:read",
    "users:write",
    "keys:read",
    "keys:write",
    "audit:read",
    # Apart from audit:read: a dashboard may show usage without reading the security log.
    "usage:read",
)
# Writing `last_used_at` on every call would make each read a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who calls the management API: what it may do, and which tenant (None: every tenant)."""

    label: str
    tenant_id: int | None
    scopes: frozenset[str]

    @property
    def is_platform(self) -> bool:
        return self.tenant_id is None

    def reaches(self, tenant_id: int) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id

    def can(self, scope: str) -> bool:
        return scope in self.scopes


OPERATOR = Principal("operator (command line)", None, frozenset(SCOPES))


@dataclass(frozen=True)
class ApiKeyView:
    key_id: str
    tenant_id: int | None
    name: str
    scopes: tuple[str, ...]
    last_four: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            key_id=key.key_id,
            tenant_id=key.tenant_id,
            name=key.name,
            scopes=tuple(key.scopes),
            last_four=key.last_four,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            created_by=key.created_by,
            created_at=key.created_at,
        )

    def public_dict(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "platform": self.tenant_id is None,
            "hint": f"{API_KEY_PREFIX}…{self.last_four}",
            "expires_at": _iso(self.expires_at),
            "last_used_at": _iso(self.last_used_at),
            "revoked_at": _iso(self.revoked_at),
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKeyView
    secret: str  # the only time the key exists in clear


def create_api_key(
    uow: UnitOfWork,
    creator: Principal,
    tenant: TenantView | None,
    name: str,
    scopes: tuple[str, ...] | None,
    expires_at: datetime | None = None,
) -> IssuedApiKey:
    """A key for `tenant` (None: a platform key, which only the operator may create)."""
    if tenant is None and creator is not OPERATOR:
        raise InvalidInput("platform", "platform keys are created with `idp api-keys create`")
    if tenant is not None and not creator.reaches(tenant.id):
        raise NotFound("no such tenant")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name", "must be 1-200 characters")
    granted = tuple(creator.scopes) if scopes is None else tuple(dict.fromkeys(scopes))
    for scope in granted:
        if scope not in SCOPES:
            raise InvalidInput("scopes", f"unknown scope '{scope}'")
        if not creator.can(scope):
            raise InvalidInput("scopes", f"cannot grant '{scope}', which the caller lacks")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput("expires_at", "must be in the future")
    secret = new_secret(API_KEY_PREFIX)
    with uow:
        key = uow.api_keys.add(
            ApiKey(
                key_id=new_identifier(12),
                tenant_id=tenant.id if tenant else None,
                name=name,
                digest=digest(secret),
                last_four=secret[-4:],
                scopes=sorted(granted, key=SCOPES.index),
                expires_at=expires_at,
                created_by=creator.label,
            )
        )
        uow.commit()
        return IssuedApiKey(ApiKeyView.of(key), secret)


def authenticate_api_key(uow: UnitOfWork, presented: str) -> Principal | None:
    """The principal of a live key, or None for unknown, revoked or expired keys."""
    if not presented.startswith(API_KEY_PREFIX) or len(presented) > 100:
        return None
    now = datetime.now(UTC)
    with uow:
        # The lookup is by digest, an exact match on a unique index: no timing signal on the key.
        key = uow.api_keys.by_digest(digest(presented))
        if key is None or key.revoked_at is not None:
            return None
        if key.expires_at is not None and key.expires_at <= now:
            return None
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
            key.last_used_at = now
            uow.commit()
        return Principal(f"api-key:{key.key_id}", key.tenant_id, frozenset(key.scopes))


def list_api_keys(uow: UnitOfWork, tenant: TenantView) -> list[ApiKeyView]:
    with uow:
        return [ApiKeyView.of(key) for key in uow.api_keys.list(tenant.id)]


def get_api_key(uow: UnitOfWork, tenant: TenantView, key_id: str) -> ApiKeyView:
    with uow:
        key = uow.api_keys.get(tenant.id, key_id)
        if key is None:
            raise NotFound(f"no API key '{key_id}'")
        return ApiKeyView.of(key)


def revoke_api_key(uow: UnitOfWork, tenant: TenantView, key_id: str) -> ApiKeyView:
    with uow:
        return _revoke(uow, uow.api_keys.get(tenant.id, key_id), f"no API key '{key_id}'")


def list_platform_api_keys(uow: UnitOfWork) -> list[ApiKeyView]:
    """Every platform key, revoked ones included: an operator auditing access sees them all.

    Who may call this (the operator, a platform key) is decided by the entry points, as for
    creating and deleting tenants.
    """
    with uow:
        return [ApiKeyView.of(key) for key in uow.api_keys.list_platform()]


def get_platform_api_key(uow: UnitOfWork, key_id: str) -> ApiKeyView:
    with uow:
        key = uow.api_keys.get_platform(key_id)
        if key is None:
            raise NotFound(f"no platform API key '{key_id}'")
        return ApiKeyView.of(key)


def revoke_platform_api_key(uow: UnitOfWork, key_id: str) -> ApiKeyView:
    """Revoke a platform key, at once for every worker and instance.

    `authenticate_api_key` reads the key's row on every call and nothing caches it, so the
    committed `revoked_at` is the whole revocation (DESIGN §3: the database is the record).
    A key may revoke itself: whoever holds a key they believe leaked can end it immediately,
    and the operator can always make a new one with `idp api-keys create --platform`.
    """
    with uow:
        key = uow.api_keys.get_platform(key_id)
        return _revoke(uow, key, f"no platform API key '{key_id}'")


def _revoke(uow: UnitOfWork, key: ApiKey | None, missing: str) -> ApiKeyView:
    """Revoke `key` within the open unit of work; revoking twice keeps the first instant."""
    if key is None:
        raise NotFound(missing)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        uow.commit()
    return ApiKeyView.of(key)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
