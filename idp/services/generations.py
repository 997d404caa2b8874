"""Per-tenant generations: what lets a worker cache an answer that another worker may outdate.

A generation is a random value in the short-lived store, shared by every worker and instance,
replaced whenever something it covers is written. A cached answer is used only while the
generation it was read under is still current; the generation is read before the data, so a
write that lands between the two leaves the answer under the old generation, already outdated.

Reading the generation is a store round trip, so a worker trusts the one it read for
TRUSTED_FOR seconds, counted from when the read began, and every writer, after publishing a new
generation, waits that long before it returns (`changed` does). A request that starts after a
write has returned therefore uses a generation whose read began after the new one was published:
the change applies to every request made after the write returned, on every worker and instance,
as if nothing were cached. A request racing with the write may see either state, as it would
without a cache.

Many tenants: each kind of generation also has one *overall* generation, replaced after every
tenant's (`publish` writes the tenant's first). A worker reads it at most once per TRUSTED_FOR,
whatever the number of tenants, and while it has not changed, every tenant generation read under
it is still current: with traffic spread over 10,000 tenants each request would otherwise read
its tenant's generation from the store (bench/RESULTS.md, the tenants row). Exact for the same
reason as above: a tenant generation is read after the overall one it is filed under, and the
overall one is replaced after the tenant's, so a tenant generation filed under the current
overall one cannot be older than the last write.

Store entries expire, and the store may lose them all at once (DESIGN §3). A worker that finds
no generation makes one, new and random, so an answer cached before the loss never matches again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from idp.crypto.secrets import new_identifier
from idp.stores import ShortLivedStore, StoreUnavailable

TTL = 86400.0
# Long enough that a busy worker reads a tenant's generation at most 100 times a second instead
# of on every request; short enough that a write, which waits it out, is not slowed.
TRUSTED_FOR = 0.01
# Bounds memory; tenant ids come from tenants read from the database, never from a request, so
# this is well above any real number of tenants: clearing would send every tenant to the store.
MAX_TENANTS = 100_000
# How long a copy vouched for only by its generation may serve (`vouches_for`): bounds what a
# row changed behind the product's back (SQL by hand, no generation published) can outlive.
# An hour: with copies read again every 5 minutes, two workers serving 10,000
# tenants re-read ~67 tenants a second between them, by estimate a tenth of their core's CPU.
VOUCHED_MAX_AGE = 3600.0
CHANGED = "idp.changed_generations"

# What a kind of generation covers: the tenant an ORM instance belongs to, or None if not covered.
TenantOf = Callable[[object], int | None]


def generation_key(name: str, tenant_id: int | str) -> str:
    return f"{name}-generation:{tenant_id}"


class _Seen(NamedTuple):
    read_at: float  # when the read began (time.monotonic)
    generation: str | None
    overall: str | None  # the overall generation it was read under


class TenantGenerations:
    """One kind of generation (`name`: what it covers) for every tenant."""

    def __init__(self, store: ShortLivedStore, name: str) -> None:
        self._store = store
        self._name = name
        self._seen: dict[int, _Seen] = {}
        self._overall: _Seen | None = None
        self._lock = threading.Lock()

    def key(self, tenant_id: int | str) -> str:
        return generation_key(self._name, tenant_id)

    def current(self, tenant_id: int) -> str | None:
        """The tenant's generation as read at most TRUSTED_FOR ago, or read earlier under the
        overall generation that is still current (module docstring)."""
        started = time.monotonic()
        seen = self._seen.get(tenant_id)
        if seen and started - seen.read_at < TRUSTED_FOR:
            return seen.generation
        overall = self._current_overall(started)
        if seen and overall.generation is not None and seen.overall == overall.generation:
            return seen.generation
        generation = self._store.get(self.key(tenant_id)) or self._new(self.key(tenant_id))
        self._remember(tenant_id, _Seen(started, generation, overall.generation))
        return generation

    def current_or_none(self, tenant_id: int) -> str | None:
        """`current`, or None while the store cannot be reached: for caches that worked without
        the store before and fall back to re-reading on a timer (tenants, key rings)."""
        try:
            return self.current(tenant_id)
        except StoreUnavailable:
            return None

    def vouches_for(self, tenant_id: int, generation: str | None, age: float, ttl: float) -> bool:
        """Whether a copy read `age` seconds ago under `generation` may still serve: while that
        generation is current (at most VOUCHED_MAX_AGE), or for `ttl` seconds when it was read
        without one (the store unreachable, a first read)."""
        if generation is None:
            return age < ttl
        return age < VOUCHED_MAX_AGE and self.current_or_none(tenant_id) == generation

    def _current_overall(self, started: float) -> _Seen:
        seen = self._overall
        if seen and started - seen.read_at < TRUSTED_FOR:
            return seen
        key = self.key("all")
        seen = self._overall = _Seen(started, self._store.get(key) or self._new(key), None)
        return seen

    def _remember(self, tenant_id: int, seen: _Seen) -> None:
        with self._lock:
            if len(self._seen) >= MAX_TENANTS:
                self._seen.clear()
            self._seen[tenant_id] = seen

    def publish(self, tenant_id: int) -> None:
        """Every answer cached under the tenant's current generation is outdated from now on; the
        caller waits TRUSTED_FOR before it returns (or calls `changed`, which does). The overall
        generation is replaced after the tenant's (module docstring)."""
        self._store.put(self.key(tenant_id), new_identifier(8), TTL)
        self._store.put(self.key("all"), new_identifier(8), TTL)

    def changed(self, tenant_id: int) -> None:
        """Publish a new generation, then wait until no worker trusts the old one any more."""
        self.publish(tenant_id)
        time.sleep(TRUSTED_FOR)

    def _new(self, key: str) -> str | None:
        """A generation where there is none: never seen before, so nothing cached matches it.

        Without it, answers cached while no generation existed (a store that lost its contents)
        would match again after the next loss, and data changed in between would be served as it
        was before the change.
        """
        fresh = new_identifier(8)
        return fresh if self._store.add(key, fresh, TTL) else self._store.get(key)


def publish_on_commit(
    session_factory: sessionmaker[Session], store: ShortLivedStore, watched: Mapping[str, TenantOf]
) -> None:
    """After each commit that inserted, changed or deleted rows a kind of generation covers
    (`watched`: its name and how to tell an instance's tenant), publish a new generation of that
    kind for each tenant written, then wait TRUSTED_FOR once (module docstring). Hooking every
    commit catches every writer (the management API, the `idp` command, dynamic registration,
    key rotation); the rows covered are only ever written through the ORM, never by a bulk
    UPDATE or DELETE."""

    @event.listens_for(session_factory, "after_flush")
    def collect(session: Session, _context: Any) -> None:
        changed = session.info.setdefault(CHANGED, set())
        for instance in (*session.new, *session.dirty, *session.deleted):
            for name, tenant_of in watched.items():
                tenant_id = tenant_of(instance)
                if tenant_id is not None:
                    changed.add((name, tenant_id))

    @event.listens_for(session_factory, "after_commit")
    def publish(session: Session) -> None:
        changed = session.info.pop(CHANGED, ())
        for name, tenant_id in changed:
            TenantGenerations(store, name).publish(tenant_id)
        if changed:
            # Until then, a worker may still trust the generation it read just before.
            time.sleep(TRUSTED_FOR)

    @event.listens_for(session_factory, "after_rollback")
    def forget(session: Session) -> None:
        session.info.pop(CHANGED, None)
