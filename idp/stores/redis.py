"""The Redis backend of the short-lived store, for several instances sharing state."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import redis

from idp.stores.redis_urls import connection_pool

# INCR then set the window's expiry only when this call created the counter: one round trip.
_INCR_WITH_TTL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
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


class RedisStore:
    def __init__(self, url: str, key_prefix: str) -> None:
        self._prefix = key_prefix
        self._pool = connection_pool(url, decode_responses=True)
        scripts = redis.Redis(connection_pool=self._pool)
        self._incr = scripts.register_script(_INCR_WITH_TTL)
        self._swap = scripts.register_script(_SWAP)
        self._local = threading.local()

    @property
    def _redis(self) -> redis.Redis:
        """This thread's client, holding one connection of the pool for as long as the thread
        lives (gunicorn's threads live as long as their worker). Every token and introspection
        request reads the store; taking and returning a pooled connection each time was ~17 µs
        of a ~75 µs GET (bench/RESULTS.md). A thread's end returns its connection to the pool."""
        client: redis.Redis | None = getattr(self._local, "client", None)
        if client is None:
            client = redis.Redis(connection_pool=self._pool, single_connection_client=True)
            self._local.client = client
        return client

    def put(self, key: str, value: str, ttl: float) -> None:
        self._redis.set(self._prefix + key, value, px=_ms(ttl))

    def put_many(self, entries: Sequence[tuple[str, str, float]]) -> None:
        pipeline = self._redis.pipeline(transaction=False)
        for key, value, ttl in entries:
            pipeline.set(self._prefix + key, value, px=_ms(ttl))
        pipeline.execute()

    def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._redis.set(self._prefix + key, value, px=_ms(ttl), nx=True))

    def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        swapped = self._swap(
            keys=[self._prefix + key], args=[expected, value, _ms(ttl)], client=self._redis
        )
        return bool(swapped)

    def get(self, key: str) -> str | None:
        return self._redis.get(self._prefix + key)  # type: ignore[return-value]

    def get_many(self, keys: list[str]) -> list[str | None]:
        return self._redis.mget([self._prefix + key for key in keys])  # type: ignore[return-value]

    def take(self, key: str) -> str | None:
        return self._redis.getdel(self._prefix + key)  # type: ignore[return-value]

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def incr(self, key: str, ttl: float) -> int:
        count = self._incr(keys=[self._prefix + key], args=[_ms(ttl)], client=self._redis)
        return int(count)  # type: ignore[arg-type]

    def ping(self) -> None:
        self._redis.ping()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
