"""One write at a time per resource, across workers and instances (held in the short-lived store).

An `If-Match` check and the write it guards must be one step: otherwise two admins holding the
same ETag could both pass the check, and the second would silently overwrite the first. So every
write to a resource holds that resource's lock from the check until its commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from idp.services.errors import Conflict
from idp.stores import ShortLivedStore

# A write holds the lock for milliseconds; the TTL only frees the lock of a worker that died.
LOCK_SECONDS = 30.0
# How long a second writer waits for the first before it is told to retry.
WAIT_SECONDS = 5.0


@contextmanager
def exclusive(store: ShortLivedStore, resource: str) -> Iterator[None]:
    """Hold the lock of `resource` for the block; Conflict if another writer keeps it too long."""
    key = f"write-lock:{resource}"
    deadline = time.monotonic() + WAIT_SECONDS
    pause = 0.005
    while not store.add(key, "1", LOCK_SECONDS):
        if time.monotonic() >= deadline:
            raise Conflict("another change to this resource is still in progress; try again")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    try:
        yield
    finally:
        # Unconditional: a write outliving LOCK_SECONDS is already broken in worse ways.
        store.delete(key)
