"""Signing keys per tenant: creation, rotation with publish-before-use, and the key cache.

Rotation (DESIGN §4): the new key is published in the JWKS at once but signs only from
`activates_at` = now + publish delay, when every verifier has had the chance to fetch it. The key
it replaces stays published until every token it signed has expired (`retires_at`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from idp.crypto.kek import Kek
from idp.crypto.keys import (
    KeyRing,
    RingKey,
    generate_private_jwk,
    open_jwk,
    public_part,
    seal_jwk,
)
from idp.crypto.secrets import new_identifier
from idp.models.failures import DATABASE_ERRORS, database_unreachable
from idp.models.keys import SigningKey
from idp.models.lookups import TenantLookup
from idp.models.uow import UnitOfWork
from idp.services.generations import TenantGenerations
from idp.settings import SIGNING_ALGS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.retires_at is not None and self.retires_at <= now:
            return "retired"
        if self.activates_at > now:
            return "published"
        return "retiring" if self.retires_at is not None else "active"


def _new_key(kek: Kek, tenant_id: int, alg: str, activates_at: datetime) -> SigningKey:
    kid = new_identifier(12)
    private = generate_private_jwk(alg, kid)
    return SigningKey(
        tenant_id=tenant_id,
        kid=kid,
        alg=alg,
        public_jwk=public_part(private),
        private_jwk_sealed=seal_jwk(kek, private),
        activates_at=activates_at,
    )


def create_initial_keys(uow: UnitOfWork, kek: Kek, tenant_id: int, algs: Iterable[str]) -> None:
    """A new tenant's keys sign at once: no token of it exists that a verifier could confuse."""
    now = datetime.now(UTC)
    for alg in algs:
        uow.keys.add(_new_key(kek, tenant_id, alg, activates_at=now))


def rotate_keys(
    uow: UnitOfWork,
    kek: Kek,
    tenant_id: int,
    algs: Iterable[str],
    publish_delay: timedelta,
    longest_token_lifetime: timedelta,
) -> list[KeyInfo]:
    """Add a successor for each alg; schedule the retirement of the keys it replaces."""
    now = datetime.now(UTC)
    activates_at = now + publish_delay
    created = []
    with uow:
        current = uow.keys.published(tenant_id, now)
        for alg in algs:
            if alg not in SIGNING_ALGS:
                raise ValueError(f"unsupported algorithm {alg}")
            for old in current:
                if old.alg == alg and old.retires_at is None:
                    # Signs until its successor activates, then verifies until its last token ends.
                    old.retires_at = activates_at + longest_token_lifetime
            created.append(uow.keys.add(_new_key(kek, tenant_id, alg, activates_at)))
        uow.commit()
        return [_info(key) for key in created]


def list_keys(uow: UnitOfWork, tenant_id: int) -> list[KeyInfo]:
    with uow:
        return [_info(key) for key in uow.keys.all(tenant_id)]


def _info(key: SigningKey) -> KeyInfo:
    return KeyInfo(key.kid, key.alg, key.created_at, key.activates_at, key.retires_at)


@dataclass(frozen=True, slots=True)
class _Entry:
    checked: float
    newest: int | None
    ring: KeyRing
    generation: str | None  # read before the key set; None: trusted for `ttl` only


class KeyCache:
    """Decrypted, parsed key rings per tenant, shared by the threads of one process.

    A ring read under the tenant's settings generation (tenancy/tenants.SETTINGS_GENERATIONS,
    published by every commit that writes a key) serves while that generation is current, at
    most an hour; otherwise it is trusted for `ttl` seconds. Then one cheap query (the newest
    key id) tells whether the key set changed, and only then are keys decrypted again (each is
    parsed on first use). While the database cannot be reached, the last ring read keeps being
    used (and the database is tried again every `ttl` seconds): the JWKS is served from memory
    and tokens can still be verified.
    """

    def __init__(
        self,
        lookup: TenantLookup,
        kek: Kek,
        ttl: float,
        generations: TenantGenerations,
    ) -> None:
        self._lookup = lookup
        self._kek = kek
        self._ttl = ttl
        self._generations = generations
        self._rings: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def ring(self, tenant_id: int) -> KeyRing:
        entry = self._rings.get(tenant_id)
        if entry and self._fresh(entry, tenant_id, time.monotonic()):
            return entry.ring
        with self._lock:
            now = time.monotonic()
            entry = self._rings.get(tenant_id)
            if entry and self._fresh(entry, tenant_id, now):
                return entry.ring
            # Read before the key set: a key written between the two leaves the ring outdated.
            generation = self._generations.current_or_none(tenant_id)
            try:
                newest, ring = self._refresh(tenant_id, entry)
            except DATABASE_ERRORS as error:
                if entry is None or not database_unreachable(error):
                    raise
                log.warning("database unreachable: keys of tenant %s served from memory", tenant_id)
                newest, ring, generation = entry.newest, entry.ring, None
            self._rings[tenant_id] = _Entry(now, newest, ring, generation)
            return ring

    def _fresh(self, entry: _Entry, tenant_id: int, now: float) -> bool:
        return self._generations.vouches_for(
            tenant_id, entry.generation, now - entry.checked, self._ttl
        )

    def _refresh(self, tenant_id: int, entry: _Entry | None) -> tuple[int | None, KeyRing]:
        """The newest key id and the ring: the cached one while that id has not changed. A ring
        read for the first time needs no such check: its rows give the newest id."""
        if entry is not None:
            newest = self._lookup.newest_key_id(tenant_id)
            if entry.newest == newest:
                return newest, entry.ring
        rows = self._lookup.signing_keys(tenant_id)
        now = datetime.now(UTC)
        keys = tuple(
            RingKey(
                kid=row.kid,
                alg=row.alg,
                open_private=partial(open_jwk, self._kek, row.private_jwk_sealed, row.kid),
                public_jwk=row.public_jwk,
                activates_at=row.activates_at,
                retires_at=row.retires_at,
            )
            for row in rows
            if row.retires_at is None or row.retires_at > now
        )
        return max((row.id for row in rows), default=None), KeyRing(keys)
