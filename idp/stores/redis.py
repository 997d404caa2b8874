"""The Redis backend of the short-lived store, for several instances sharing state.

Faults (DESIGN §3): whatever redis-py raises because Redis cannot be reached (refused, timed
out, connection lost, a read-only replica after a failover, out of memory) leaves here as
StoreUnavailable, which the HTTP layer answers 503 with `Retry-After`; nothing reads a failed
command as "absent". A connection found dead, as every pooled and per-thread connection is after
Redis restarts, is reconnected and the command sent once more: the old server is gone, so the
first attempt did nothing there. Were the connection lost after a command ran (a network cut
mid-answer), the one retry can only err towards refusal: GETDEL finds the code already taken,
SET NX and the compare-and-set find their own write, INCR counts one failure twice. Timeouts are
not retried: a Redis that hangs would only make every request wait twice as long for its 503.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ClusterDownError, OutOfMemoryError, ReadOnlyError
from redis.retry import Retry

from idp.stores.base import StoreUnavailable
from idp.stores.redis_urls import connection_pool

P = ParamSpec("P")
R = TypeVar("R")
UNREACHABLE = (
    redis.ConnectionError,  # refused, reset, closed by the server; also still loading its data
    redis.TimeoutError,
    ReadOnlyError,  # a replica, after a failover that this client has not followed yet
    ClusterDownError,  # also MASTERDOWN: a replica that lost its primary
    OutOfMemoryError,  # maxmemory reached with a no-eviction policy: writes are refused
)

# INCR then set the window's expiry only when this call created the counter: one round trip.
_INCR_WITH_TTL = """
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Compare and set: replace the value only while it is still the one the caller saw.
_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


def _unavailable_on_failure(method: Callable[P, R]) -> Callable[P, R]:
    """Raise StoreUnavailable for any failure that says Redis did not answer."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except UNREACHABLE as error:
            raise StoreUnavailable(f"Redis: {error}") from error

    return call


def connection_options(connect_timeout: float, command_timeout: float) -> dict[str, Any]:
    """Pool options: bounded waits, and one retry of a command whose connection was dead."""
    return {
        "decode_responses": True,
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": command_timeout,
        "retry": Retry(NoBackoff(), retries=1, supported_errors=(redis.ConnectionError,)),
    }


class RedisStore:
    def __init__(
        self,
        url: str,
        key_prefix: str,
        *,
        connect_timeout: float = 1.0,
        command_timeout: float = 1.0,
    ) -> None:
        self._prefix = key_prefix
        self._pool = connection_pool(url, **connection_options(connect_timeout, command_timeout))
        scripts = redis.Redis(connection_pool=self._pool)
        self._incr = scripts.register_script(_INCR_WITH_TTL)
        self._swap = scripts.register_script(_SWAP)
        self._local = threading.local()

    @property
    def _redis(self) -> redis.Redis:
        """This thread's client, holding one connection of the pool for as long as the thread
        lives (gunicorn's threads live as long as their worker). Every token and introspection
        request reads the store; taking and returning a pooled connection each time was ~17 µs
        of a ~75 µs GET (bench/RESULTS.md). A thread's end returns its connection to the pool.
        The pool's retry policy applies to this connection too: after a Redis restart, its first
        command reconnects instead of failing."""
        client: redis.Redis | None = getattr(self._local, "client", None)
        if client is None:
            client = redis.Redis(connection_pool=self._pool, single_connection_client=True)
            self._local.client = client
        return client

    @_unavailable_on_failure
    def put(self, key: str, value: str, ttl: float) -> None:
        self._redis.set(self._prefix + key, value, px=_ms(ttl))

    @_unavailable_on_failure
    def put_many(self, entries: Sequence[tuple[str, str, float]]) -> None:
        pipeline = self._redis.pipeline(transaction=False)
        for key, value, ttl in entries:
            pipeline.set(self._prefix + key, value, px=_ms(ttl))
        pipeline.execute()

    @_unavailable_on_failure
    def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._redis.set(self._prefix + key, value, px=_ms(ttl), nx=True))

    @_unavailable_on_failure
    def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        swapped = self._swap(
            keys=[self._prefix + key], args=[expected, value, _ms(ttl)], client=self._redis
        )
        return bool(swapped)

    @_unavailable_on_failure
    def get(self, key: str) -> str | None:
        return self._redis.get(self._prefix + key)  # type: ignore[return-value]

    @_unavailable_on_failure
    def get_many(self, keys: list[str]) -> list[str | None]:
        return self._redis.mget([self._prefix + key for key in keys])  # type: ignore[return-value]

    @_unavailable_on_failure
    def take(self, key: str) -> str | None:
        return self._redis.getdel(self._prefix + key)  # type: ignore[return-value]

    @_unavailable_on_failure
    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    @_unavailable_on_failure
    def incr(self, key: str, ttl: float, by: int = 1) -> int:
        count = self._incr(keys=[self._prefix + key], args=[_ms(ttl), by], client=self._redis)
        return int(count)  # type: ignore[arg-type]

    @_unavailable_on_failure
    def ping(self) -> None:
        self._redis.ping()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
