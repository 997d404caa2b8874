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

Store entries expire, and the store may lose them all at once (DESIGN §3). A worker that finds
no generation makes one, new and random, so an answer cached before the loss never matches again.
"""

from __future__ import annotations

import threading
import time

from idp.crypto.secrets import new_identifier
from idp.stores import ShortLivedStore

TTL = 86400.0
# Long enough that a busy worker reads a tenant's generation at most 100 times a second instead
# of on every request; short enough that a write, which waits it out, is not slowed.
TRUSTED_FOR = 0.01
MAX_TENANTS = 10_000  # bounds memory


def generation_key(name: str, tenant_id: int) -> str:
    return f"{name}-generation:{tenant_id}"


class TenantGenerations:
    """One kind of generation (`name`: what it covers) for every tenant."""

    def __init__(self, store: ShortLivedStore, name: str) -> None:
        self._store = store
        self._name = name
        self._seen: dict[int, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def key(self, tenant_id: int) -> str:
        return generation_key(self._name, tenant_id)

    def current(self, tenant_id: int) -> str | None:
        """The tenant's generation as read at most TRUSTED_FOR ago (module docstring)."""
        started = time.monotonic()
        seen = self._seen.get(tenant_id)
        if seen and started - seen[0] < TRUSTED_FOR:
            return seen[1]
        generation = self._store.get(self.key(tenant_id)) or self._new(tenant_id)
        with self._lock:
            if len(self._seen) >= MAX_TENANTS:
                self._seen.clear()
            self._seen[tenant_id] = (started, generation)
        return generation

    def publish(self, tenant_id: int) -> None:
        """Every answer cached under the tenant's current generation is outdated from now on; the
        caller waits TRUSTED_FOR before it returns (or calls `changed`, which does)."""
        self._store.put(self.key(tenant_id), new_identifier(8), TTL)

    def changed(self, tenant_id: int) -> None:
        """Publish a new generation, then wait until no worker trusts the old one any more."""
        self.publish(tenant_id)
        time.sleep(TRUSTED_FOR)

    def _new(self, tenant_id: int) -> str | None:
        """A generation where there is none: never seen before, so nothing cached matches it.

        Without it, answers cached while no generation existed (a store that lost its contents)
        would match again after the next loss, and data changed in between would be served as it
        was before the change.
        """
        key = self.key(tenant_id)
        fresh = new_identifier(8)
        return fresh if self._store.add(key, fresh, TTL) else self._store.get(key)
