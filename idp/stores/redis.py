"""The Redis backend of the short-lived store, for several instances sharing state."""

from __future__ import annotations

import redis

# INCR then set the window's expiry only when this call created the counter: one round trip.
_INCR_WITH_TTL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisStore:
    def __init__(self, url: str, key_prefix: str) -> None:
        self._prefix = key_prefix
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._incr = self._redis.register_script(_INCR_WITH_TTL)

    def put(self, key: str, value: str, ttl: float) -> None:
        self._redis.set(self._prefix + key, value, px=_ms(ttl))

    def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(self._redis.set(self._prefix + key, value, px=_ms(ttl), nx=True))

    def get(self, key: str) -> str | None:
        return self._redis.get(self._prefix + key)  # type: ignore[return-value]

    def get_many(self, keys: list[str]) -> list[str | None]:
        return self._redis.mget([self._prefix + key for key in keys])  # type: ignore[return-value]

    def take(self, key: str) -> str | None:
        return self._redis.getdel(self._prefix + key)  # type: ignore[return-value]

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def incr(self, key: str, ttl: float) -> int:
        return int(self._incr(keys=[self._prefix + key], args=[_ms(ttl)]))  # type: ignore[arg-type]

    def ping(self) -> None:
        self._redis.ping()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
