"""Rate limits shared via the store: failed attempts by strangers (RFC 9700 §4.x: brute force),
requests to the management API (`WindowLimiter`) and to the token endpoint (`BatchedLimiter`).

Failures are counted in the short-lived store, so the count is shared by every worker and
instance. Once a source is over the limit, each worker that sees it fail also remembers the block
locally until the window ends, so blocked requests are refused before any work, and successful
requests never pay a store round trip for the check.
"""

from __future__ import annotations

import math
import threading
import time

from idp.crypto.secrets import digest
from idp.stores import ShortLivedStore, StoreUnavailable

# Sources a worker keeps in memory at most (blocked, or counted and not yet written): past it
# they are forgotten, and one refused before is refused again once its count next reaches the
# store, which still holds it (a spray of addresses cannot grow a worker without bound).
MAX_SOURCES = 100_000


class FailureLimiter:
    def __init__(self, store: ShortLivedStore, name: str, limit: int, window: int) -> None:
        self._store = store
        self._name = name
        self._limit = limit
        self._window = window
        self._blocked: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, source: str) -> int | None:
        """Seconds until `source` may try again, or None when it is not blocked here."""
        until = self._blocked.get(source)
        if until is None:
            return None
        remaining = until - time.monotonic()
        if remaining <= 0:
            with self._lock:
                self._blocked.pop(source, None)
            return None
        return max(1, int(remaining))

    def record_failure(self, source: str) -> int | None:
        """Count one failure; return the retry delay when this takes `source` over the limit."""
        window_start = int(time.time()) // self._window
        count = self._store.incr(f"fail:{self._name}:{source}:{window_start}", self._window)
        if count <= self._limit:
            return None
        remaining = self._window - time.time() % self._window
        with self._lock:
            if len(self._blocked) > MAX_SOURCES:
                self._blocked.clear()
            self._blocked[source] = time.monotonic() + remaining
        return max(1, int(remaining))


class WindowLimiter:
    """At most `limit` requests per `window` seconds from one source, counted in the store.

    The window starts at a source's first request (not at the top of the minute), so a burst
    cannot straddle a boundary to get twice the limit. The counter is shared by every worker and
    instance; the window's start is written once per window, only to answer `Retry-After`.
    """

    def __init__(self, store: ShortLivedStore, name: str, limit: int, window: int) -> None:
        self._store = store
        self._name = name
        self._limit = limit
        self._window = window

    def hit(self, source: str) -> int | None:
        """Count one request; the seconds to wait when it is over the limit, else None."""
        key = f"rate:{self._name}:{source}"
        count = self._store.incr(key, self._window)
        if count == 1:
            self._store.put(f"{key}:start", str(time.time()), self._window)
        if count <= self._limit:
            return None
        started = self._store.get(f"{key}:start")
        remaining = self._window if started is None else float(started) + self._window - time.time()
        return max(1, math.ceil(remaining))


class BatchedLimiter:
    """About `limit` requests per `window` seconds from one source, for a path as hot as the
    token endpoint's.

    A store round trip per request would cost a machine client's token more than its ES256
    signature, so each worker counts a source's requests itself and adds them to the shared
    counter in the store once per `batch` (a fiftieth of the limit; every request while the
    limit is under 50). Every worker and instance still adds to one count per source and
    window, and a source is refused within `batch` - 1 requests per worker of its limit. Windows
    are fixed and aligned to the clock (as FailureLimiter's), so every worker counts into the
    same key; a blocked source is refused here, without a round trip, until its window ends.
    """

    BATCHES_PER_LIMIT = 50

    def __init__(self, store: ShortLivedStore, name: str, limit: int, window: int) -> None:
        self._store = store
        self._name = name
        self._limit = limit
        self._window = window
        self.batch = max(1, limit // self.BATCHES_PER_LIMIT)
        self._counted_window = 0
        self._unwritten: dict[str, int] = {}  # this window's requests not yet in the store
        self._blocked: dict[str, float] = {}  # until the end of this window (time.time())
        self._lock = threading.Lock()

    def hit(self, source: str) -> int | None:
        """Count one request; the seconds to wait when `source` is over the limit, else None.
        Raises StoreUnavailable when its batch cannot be written (the batch is kept)."""
        now = time.time()
        window = int(now) // self._window
        until = self._blocked.get(source)
        if until is not None and until > now:
            return max(1, math.ceil(until - now))
        with self._lock:
            if window != self._counted_window or len(self._unwritten) > MAX_SOURCES:
                # Every block ends with the window it was counted in.
                self._counted_window, self._unwritten, self._blocked = window, {}, {}
            count = self._unwritten.pop(source, 0) + 1
            if count < self.batch:
                self._unwritten[source] = count
                return None
        try:
            total = self._store.incr(f"rate:{self._name}:{source}:{window}", self._window, count)
        except StoreUnavailable:
            with self._lock:
                self._unwritten[source] = self._unwritten.get(source, 0) + count
            raise
        if total <= self._limit:
            return None
        until = (window + 1) * self._window
        self._blocked[source] = until
        return max(1, math.ceil(until - now))


class AddressThrottle:
    """Requests that name an e-mail address (reset, sign-up, a new verification link): at most
    `per_address` per address, known or not, so the limit reveals nothing about accounts and
    bounds the mail one inbox can be sent, and `per_ip` per client IP, within `window` seconds.
    The address is counted as a digest: no address in the store."""

    def __init__(
        self, store: ShortLivedStore, name: str, per_address: int, per_ip: int, window: int
    ) -> None:
        self._address = WindowLimiter(store, f"{name}:addr", per_address, window)
        self._ip = WindowLimiter(store, f"{name}:ip", per_ip, window)

    def hit(self, tenant_id: int, email: str, ip: str) -> int | None:
        """Count one request; the seconds to wait when either limit is passed, else None."""
        delays = [
            self._address.hit(f"{tenant_id}:{digest(email)}"),
            self._ip.hit(f"{tenant_id}:{ip}"),
        ]
        waits = [delay for delay in delays if delay is not None]
        return max(waits) if waits else None
