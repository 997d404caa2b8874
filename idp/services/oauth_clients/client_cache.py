"""Clients as the protocol endpoints read them: cached per process, never stale.

Every token, introspection and revocation request authenticates a client. Reading its row costs
a database round trip plus decoding some thirty columns, several of them JSON; on PostgreSQL
that was most of a token request's CPU (bench/RESULTS.md). A client changes rarely, so each
worker keeps the `ClientView`s it has read.

A cache must not let a deleted client, a rotated secret or a removed redirect URI keep working
on the workers that did not make the change, so each tenant has a generation of its clients
(idp/services/generations.py: how a generation makes a per-process cache exact), replaced
whenever one of the tenant's clients is written (generations.publish_on_commit hooks every
commit, whatever made it: the management API, the `idp` command, dynamic registration). Reading
it on every request was a fifth of a client credentials request's CPU on Redis (bench/RESULTS.md),
which is why a worker trusts the generation it read for GENERATION_TRUSTED_FOR seconds and a
writer waits that long after publishing. A cached client lives at most VOUCHED_MAX_AGE in any
case, as every copy vouched for by a generation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from idp.models.clients import Client
from idp.models.lookups import ClientLookup
from idp.services.generations import TRUSTED_FOR, VOUCHED_MAX_AGE, TenantGenerations
from idp.services.generations import generation_key as shared_generation_key
from idp.services.oauth_clients.clients import ClientView, lookup_client
from idp.stores import ShortLivedStore

GENERATION_TRUSTED_FOR = TRUSTED_FOR
GENERATIONS = "clients"
# Bounds memory. Only clients that exist are kept (an unknown id is not), so this is well above
# any real number of clients served by one worker: clearing would send each to the database.
MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class _Entry:
    view: ClientView
    generation: str | None
    loaded: float


class ClientCache:
    """`ClientView`s by (tenant, client id), valid while their tenant's generation is current."""

    def __init__(self, lookup: ClientLookup, store: ShortLivedStore) -> None:
        self._lookup = lookup
        self._entries: dict[tuple[int, str], _Entry] = {}
        self._generations = TenantGenerations(store, GENERATIONS)
        self._lock = threading.Lock()

    def get(self, tenant_id: int, client_id: str) -> ClientView | None:
        generation = self._generations.current(tenant_id)
        key = (tenant_id, client_id)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry and entry.generation == generation and now - entry.loaded < VOUCHED_MAX_AGE:
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


def generation_key(tenant_id: int) -> str:
    return shared_generation_key(GENERATIONS, tenant_id)


def clients_changed(store: ShortLivedStore, tenant_id: int) -> None:
    """Every worker's cached clients of this tenant are outdated from now on."""
    TenantGenerations(store, GENERATIONS).publish(tenant_id)


def tenant_of_client(instance: object) -> int | None:
    """What the clients generation covers (generations.publish_on_commit): client rows. A
    tenant's deletion cascades to its clients, but a tenant made again under the same slug has
    a new id, so nothing cached under the old one is ever asked for again."""
    return instance.tenant_id if isinstance(instance, Client) else None
