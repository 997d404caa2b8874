"""Clients as the protocol endpoints read them: cached per process, never stale.

Every token, introspection and revocation request authenticates a client. Reading its row costs
a database round trip plus decoding some thirty columns, several of them JSON; on PostgreSQL
that was most of a token request's CPU (bench/RESULTS.md). A client changes rarely, so each
worker keeps the `ClientView`s it has read.

A cache must not let a deleted client, a rotated secret or a removed redirect URI keep working
on the workers that did not make the change, so each tenant has a *generation* in the
short-lived store, shared by every worker and instance: a random value replaced whenever one of
the tenant's clients is written (`watch_client_writes` hooks every commit, whatever made it: the
management API, the `idp` command, dynamic registration). A cached client is used only while
the generation it was read under is still current. The generation is read before the row, so a
write that lands between the two leaves the entry under the old generation, already outdated.

Reading the generation is a store round trip, which on Redis was a fifth of a client
credentials request's CPU (bench/RESULTS.md). So a worker trusts the generation it read for
GENERATION_TRUSTED_FOR seconds, counted from when the read began, and every writer, after
publishing a new generation, waits that long before its commit returns. A request that starts
after a write has returned therefore uses a generation whose read began after the new one was
published: the change applies to every request made after the write returned, on every worker
and instance, as if nothing were cached. A request racing with the write may see either state,
as it would without a cache.

Store entries expire, and the store may lose them all at once (DESIGN §3). A worker that finds
no generation makes one, new and random, so an entry cached before the loss never matches
again; a cached client lives at most MAX_AGE in any case.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from idp.crypto.secrets import new_identifier
from idp.models.clients import Client
from idp.models.lookups import ClientLookup
from idp.services.oauth_clients.clients import ClientView, lookup_client
from idp.stores import ShortLivedStore

GENERATION_TTL = 86400.0
# Long enough that a busy worker reads a tenant's generation at most 100 times a second instead
# of on every request; short enough that a client write, which waits it out, is not slowed.
GENERATION_TRUSTED_FOR = 0.01
MAX_AGE = 3600.0
MAX_ENTRIES = 10_000  # bounds memory against client ids made up by strangers
CHANGED = "idp.changed_client_tenants"


@dataclass(frozen=True)
class _Entry:
    view: ClientView
    generation: str | None
    loaded: float


class ClientCache:
    """`ClientView`s by (tenant, client id), valid while their tenant's generation is current."""

    def __init__(self, lookup: ClientLookup, store: ShortLivedStore) -> None:
        self._lookup = lookup
        self._store = store
        self._entries: dict[tuple[int, str], _Entry] = {}
        self._generations: dict[int, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: int, client_id: str) -> ClientView | None:
        generation = self._generation(tenant_id)
        key = (tenant_id, client_id)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry and entry.generation == generation and now - entry.loaded < MAX_AGE:
            return entry.view
        view = lookup_client(self._lookup, tenant_id, client_id)
        with self._lock:
            if view is None:
                # Not cached: an unknown id costs the caller a lookup, not us memory.
                self._entries.pop(key, None)
            else:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = _Entry(view, generation, now)
        return view

    def _generation(self, tenant_id: int) -> str | None:
        """The tenant's generation as read at most GENERATION_TRUSTED_FOR ago (module doc)."""
        started = time.monotonic()
        seen = self._generations.get(tenant_id)
        if seen and started - seen[0] < GENERATION_TRUSTED_FOR:
            return seen[1]
        generation = self._store.get(generation_key(tenant_id)) or self._new_generation(tenant_id)
        with self._lock:
            if len(self._generations) >= MAX_ENTRIES:
                self._generations.clear()
            self._generations[tenant_id] = (started, generation)
        return generation

    def _new_generation(self, tenant_id: int) -> str | None:
        """A generation where there is none: never seen before, so nothing cached matches it.

        Without it, entries read while no generation existed (a store that lost its contents)
        would match again after the next loss, and a client changed in between would be served
        as it was before the change.
        """
        key = generation_key(tenant_id)
        fresh = new_identifier(8)
        return fresh if self._store.add(key, fresh, GENERATION_TTL) else self._store.get(key)


def generation_key(tenant_id: int) -> str:
    return f"clients-generation:{tenant_id}"


def clients_changed(store: ShortLivedStore, tenant_id: int) -> None:
    """Every worker's cached clients of this tenant are outdated from now on."""
    store.put(generation_key(tenant_id), new_identifier(8), GENERATION_TTL)


def watch_client_writes(session_factory: sessionmaker[Session], store: ShortLivedStore) -> None:
    """After each commit that inserted, changed or deleted clients, bump their tenants'
    generations. Client rows are only ever written through the ORM (no bulk UPDATE/DELETE on
    clients); a tenant's deletion cascades to its clients, but a tenant made again under the
    same slug has a new id, so nothing cached under the old one is ever asked for again."""

    @event.listens_for(session_factory, "after_flush")
    def collect(session: Session, _context: Any) -> None:
        changed = session.info.setdefault(CHANGED, set())
        for instance in (*session.new, *session.dirty, *session.deleted):
            if isinstance(instance, Client):
                changed.add(instance.tenant_id)

    @event.listens_for(session_factory, "after_commit")
    def publish(session: Session) -> None:
        changed = session.info.pop(CHANGED, ())
        for tenant_id in changed:
            clients_changed(store, tenant_id)
        if changed:
            # Until then, a worker may still trust the generation it read just before (module doc).
            time.sleep(GENERATION_TRUSTED_FOR)

    @event.listens_for(session_factory, "after_rollback")
    def forget(session: Session) -> None:
        session.info.pop(CHANGED, None)
