"""Short-lived state behind one interface; the backend is chosen by configuration."""

from __future__ import annotations

from sqlalchemy import Engine

from idp.stores.base import ShortLivedStore, StoreUnavailable
from idp.stores.sql import SqlStore


def make_store(
    redis_url: str,
    redis_prefix: str,
    engine: Engine,
    *,
    connect_timeout: float = 1.0,
    command_timeout: float = 1.0,
) -> ShortLivedStore:
    """Redis when a URL is configured, else the database the rest of the data lives in. The
    timeouts bound each wait for Redis; the database's own are the engine's."""
    if redis_url:
        from idp.stores.redis import RedisStore  # imported only when used: Redis is optional

        return RedisStore(
            redis_url,
            redis_prefix,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )
    return SqlStore(engine)


__all__ = ["ShortLivedStore", "StoreUnavailable", "make_store"]
