"""Tenants: creation (with their first signing keys), lookup, and a short per-process cache."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.crypto.kek import Kek
from idp.models.failures import DATABASE_ERRORS, database_unreachable
from idp.models.keys import SigningKey
from idp.models.lookups import TenantLookup, TenantRow
from idp.models.pagination import Page, keyset_page
from idp.models.tenants import Tenant
from idp.models.uow import UnitOfWork
from idp.services.errors import Conflict, InvalidInput, NotFound
from idp.services.generations import TenantGenerations
from idp.services.tenancy.profile_attributes import ProfileAttribute, load_declarations
from idp.services.tokens import signing_keys
from idp.settings import SIGNING_ALGS

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
log = logging.getLogger(__name__)


def issuer_url(public_url: str, slug: str) -> str:
    """A tenant's issuer: always built from configuration, never from the Host header, so it is
    one exact string in discovery, tokens and `iss` parameters (DESIGN §1)."""
    return f"{public_url}/t/{slug}"


@dataclass(frozen=True, slots=True)
class TenantView:
    """An immutable copy of a tenant's settings, safe to cache and share between threads."""

    id: int
    slug: str
    name: str
    signing_alg: str | None
    access_token_lifetime: int | None
    created_at: datetime
    # Branding and policies (services/tenancy/tenant_settings.py); their defaults live in the model.
    display_name: str | None
    logo_url: str | None
    primary_color: str | None
    custom_css: str | None
    self_registration: bool
    password_min_length: int
    session_lifetime: int
    refresh_token_idle_lifetime: int
    refresh_token_absolute_lifetime: int
    mfa_policy: str
    sign_in_methods: tuple[str, ...]
    dynamic_registration: bool
    dynamic_registration_requires_token: bool
    unverified_sign_in: bool
    account_deletion: bool
    passkeys_rp_id: str | None
    profile_attributes: tuple[ProfileAttribute, ...]
    federation_profile_sync: str

    @classmethod
    def of(cls, tenant: Tenant | TenantRow) -> TenantView:
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            signing_alg=tenant.signing_alg,
            access_token_lifetime=tenant.access_token_lifetime,
            created_at=tenant.created_at,
            display_name=tenant.display_name,
            logo_url=tenant.logo_url,
            primary_color=tenant.primary_color,
            custom_css=tenant.custom_css,
            self_registration=tenant.self_registration,
            password_min_length=tenant.password_min_length,
            session_lifetime=tenant.session_lifetime,
            refresh_token_idle_lifetime=tenant.refresh_token_idle_lifetime,
            refresh_token_absolute_lifetime=tenant.refresh_token_absolute_lifetime,
            mfa_policy=tenant.mfa_policy,
            sign_in_methods=tuple(tenant.sign_in_methods),
            dynamic_registration=tenant.dynamic_registration,
            dynamic_registration_requires_token=tenant.dynamic_registration_requires_token,
            unverified_sign_in=tenant.unverified_sign_in,
            account_deletion=tenant.account_deletion,
            passkeys_rp_id=tenant.passkeys_rp_id,
            profile_attributes=load_declarations(tenant.profile_attributes),
            federation_profile_sync=tenant.federation_profile_sync,
        )


def create_tenant(uow: UnitOfWork, kek: Kek, slug: str, name: str) -> TenantView:
    if not SLUG.match(slug):
        raise InvalidInput("slug", "use 1-63 lowercase letters, digits and inner hyphens")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name", "must be 1-200 characters")
    with uow:
        if uow.tenants.by_slug(slug):
            raise Conflict(f"tenant '{slug}' already exists")
        tenant = uow.tenants.add(Tenant(slug=slug, name=name))
        signing_keys.create_initial_keys(uow, kek, tenant.id, SIGNING_ALGS)
        try:
            uow.commit()
        except IntegrityError as error:  # a concurrent create of the same slug
            raise Conflict(f"tenant '{slug}' already exists") from error
        return TenantView.of(tenant)


def get_tenant(uow: UnitOfWork, slug: str) -> TenantView:
    with uow:
        tenant = uow.tenants.by_slug(slug)
        if tenant is None:
            raise NotFound(f"no tenant '{slug}'")
        return TenantView.of(tenant)


def list_tenants(uow: UnitOfWork) -> list[TenantView]:
    with uow:
        return [TenantView.of(tenant) for tenant in uow.tenants.list()]


# The generation of a tenant's settings and signing keys (services/generations.py), published
# by every commit that writes either (`tenant_of_settings`).
SETTINGS_GENERATIONS = "tenant-settings"
# Unknown slugs remembered (each for `ttl`) at most: bounds memory against slug scanning.
# Tenants that exist are always kept: the database bounds them, and dropping them would send
# each one's next request to the database.
MAX_UNKNOWN = 10_000


def tenant_of_settings(instance: object) -> int | None:
    """What SETTINGS_GENERATIONS covers (generations.publish_on_commit): tenant rows and their
    signing keys."""
    if isinstance(instance, Tenant):
        return instance.id
    if isinstance(instance, SigningKey):
        return instance.tenant_id
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    loaded: float
    view: TenantView
    generation: str | None  # read before the row; None: trusted for `ttl` only


class TenantCache:
    """Tenant lookups by slug, so discovery and tokens skip the query.

    A copy read under the tenant's settings generation serves while that generation is current
    (at most an hour): a change made through the product applies on every worker to every
    request after it returned, and with traffic spread over thousands of tenants a request does
    not re-read its tenant (bench/RESULTS.md, the tenants row). A tenant first seen is read in
    two steps: its id alone, which gives its generation, then its row under that generation.
    An unknown slug, and any read while the store cannot be reached, are trusted for `ttl`
    seconds, as all reads were before generations.
    While the database cannot be reached, the last copy read keeps being served (and the
    database is tried again every `ttl` seconds), so discovery and the JWKS answer from memory.
    """

    def __init__(self, lookup: TenantLookup, ttl: float, generations: TenantGenerations) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._generations = generations
        self._entries: dict[str, _Entry] = {}
        self._unknown: dict[str, float] = {}  # slugs that named no tenant, and when
        self._lock = threading.Lock()

    def get(self, slug: str) -> TenantView | None:
        now = time.monotonic()
        entry = self._entries.get(slug)
        if entry and self._fresh(entry, now):
            return entry.view
        unknown_since = self._unknown.get(slug)
        if entry is None and unknown_since is not None and now - unknown_since < self._ttl:
            return None
        if not SLUG.match(slug):
            return None
        try:
            view, generation = self._load(slug, entry.view if entry else None)
        except DATABASE_ERRORS as error:
            if entry is None or not database_unreachable(error):
                raise
            log.warning("database unreachable: tenant %r served from this process's copy", slug)
            view, generation = entry.view, None
        with self._lock:
            if view is None:
                self._entries.pop(slug, None)
                if len(self._unknown) >= MAX_UNKNOWN:
                    self._unknown.clear()
                self._unknown[slug] = now
            else:
                self._unknown.pop(slug, None)
                self._entries[slug] = _Entry(now, view, generation)
        return view

    def _load(self, slug: str, known: TenantView | None) -> tuple[TenantView | None, str | None]:
        """The tenant, and the generation read before it (None: trust the copy for `ttl`)."""
        if known is not None:
            # Read before the row: a change landing between the two leaves the copy outdated.
            generation = self._generations.current_or_none(known.id)
            view = self._read(slug)
            if view is None or view.id == known.id:
                return view, generation if view else None
            tenant_id: int | None = view.id  # the slug names another tenant now
        else:
            tenant_id = self._lookup.id_by_slug(slug)
            if tenant_id is None:
                return None, None
        # A tenant first seen: its id gives its generation, then the row is read under it.
        generation = self._generations.current_or_none(tenant_id)
        view = self._read(slug)
        if view is None or view.id != tenant_id or generation is None:
            return view, None
        return view, generation

    def _fresh(self, entry: _Entry, now: float) -> bool:
        return self._generations.vouches_for(
            entry.view.id, entry.generation, now - entry.loaded, self._ttl
        )

    def _read(self, slug: str) -> TenantView | None:
        row = self._lookup.by_slug(slug)
        return TenantView.of(row) if row else None

    def forget(self, slug: str) -> None:
        """Drop this process's copy after a change made here."""
        with self._lock:
            self._entries.pop(slug, None)
            self._unknown.pop(slug, None)


def update_tenant(uow: UnitOfWork, slug: str, changes: dict[str, object]) -> TenantView:
    """Apply `name`, `signing_alg` and `access_token_lifetime` changes (None resets a default)."""
    with uow:
        tenant = uow.tenants.by_slug(slug)
        if tenant is None:
            raise NotFound(f"no tenant '{slug}'")
        if "name" in changes:
            name = str(changes["name"] or "").strip()
            if not name or len(name) > 200:
                raise InvalidInput("name", "must be 1-200 characters")
            tenant.name = name
        if "signing_alg" in changes:
            alg = changes["signing_alg"]
            if alg is not None and alg not in SIGNING_ALGS:
                raise InvalidInput("signing_alg", f"must be one of {', '.join(SIGNING_ALGS)}")
            tenant.signing_alg = alg  # type: ignore[assignment]
        if "access_token_lifetime" in changes:
            lifetime = changes["access_token_lifetime"]
            if lifetime is not None and not (isinstance(lifetime, int) and 0 < lifetime <= 86400):
                raise InvalidInput("access_token_lifetime", "must be 1-86400 seconds")
            tenant.access_token_lifetime = lifetime  # type: ignore[assignment]
        uow.commit()
        return TenantView.of(tenant)


def delete_tenant(uow: UnitOfWork, slug: str) -> None:
    """Delete a tenant and, by cascade, everything it owns."""
    with uow:
        tenant = uow.tenants.by_slug(slug)
        if tenant is None:
            raise NotFound(f"no tenant '{slug}'")
        uow.session.delete(tenant)
        uow.commit()


def page_tenants(uow: UnitOfWork, after: int | None, limit: int) -> Page[TenantView]:
    with uow:
        page = keyset_page(uow.session, select(Tenant), Tenant.id, after, limit)
        return Page([TenantView.of(tenant) for tenant in page.items], page.next_after)
