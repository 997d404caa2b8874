"""The token endpoint's rate limit (services/rate_limits.BatchedLimiter) on every store: each
worker counts by itself and writes its counts in batches, yet all of them keep one limit."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from idp.models.db import make_engine
from idp.models.schema import upgrade
from idp.services import rate_limits
from idp.services.rate_limits import BatchedLimiter
from idp.stores.base import ShortLivedStore, StoreUnavailable
from idp.stores.redis import RedisStore
from idp.stores.sql import SqlStore
from tests.support.backends import sqlite_backend

WINDOW = 60
START = 1_800_000_000.0  # the start of a window (a multiple of WINDOW)


@pytest.fixture(scope="module", params=["sqlite", "postgres", "redis"])
def open_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], ShortLivedStore]:
    """Opens another store on one backend, as another worker process would."""
    if request.param == "sqlite":
        url = sqlite_backend(tmp_path_factory.mktemp("limiter")).database_url
    else:
        backend = request.getfixturevalue("postgres_redis")
        if request.param == "redis":
            return lambda: RedisStore(backend.redis_url, backend.redis_prefix)
        url = backend.database_url
    upgrade(make_engine(url))
    return lambda: SqlStore(make_engine(url))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The limiter's wall clock; the store's entries live by the real one (60 s is plenty)."""
    now = [START + 1]
    monkeypatch.setattr(rate_limits, "time", _Clock(now))
    yield now


class _Clock:
    def __init__(self, now: list[float]) -> None:
        self._now = now

    def time(self) -> float:
        return self._now[0]


def _name() -> str:
    """A limiter's name of its own per test: the store outlives it, and every test's windows
    are the same (START)."""
    return f"test-{secrets.token_hex(4)}"


def _limiter(store: ShortLivedStore, limit: int) -> BatchedLimiter:
    return BatchedLimiter(store, _name(), limit, WINDOW)


def _count(store: ShortLivedStore, name: str, source: str) -> int:
    """What the store holds for `source` in the first window (adding nothing to it)."""
    return store.incr(f"rate:{name}:{source}:{int(START) // WINDOW}", WINDOW, by=0)


def test_under_fifty_every_request_is_counted_in_the_store(open_store, clock):
    limiter = _limiter(open_store(), limit=5)
    assert limiter.batch == 1
    assert [limiter.hit("t:10.0.0.1") for _ in range(5)] == [None] * 5
    assert limiter.hit("t:10.0.0.1") == WINDOW - 1
    clock[0] += 30
    assert limiter.hit("t:10.0.0.1") == WINDOW - 31, "refused until its window ends"


def test_each_source_has_its_own_count(open_store, clock):
    limiter = _limiter(open_store(), limit=2)
    assert [limiter.hit("a:10.0.0.1"), limiter.hit("a:10.0.0.1")] == [None, None]
    assert limiter.hit("a:10.0.0.1") is not None
    assert limiter.hit("b:10.0.0.1") is None, "another tenant, same address"
    assert limiter.hit("a:10.0.0.2") is None, "same tenant, another address"


def test_a_new_window_lets_the_source_in_again(open_store, clock):
    limiter = _limiter(open_store(), limit=1)
    assert limiter.hit("t:10.0.0.1") is None
    assert limiter.hit("t:10.0.0.1") is not None
    clock[0] = START + WINDOW
    assert limiter.hit("t:10.0.0.1") is None


def test_workers_write_batches_and_share_one_limit(open_store, clock):
    """Two workers of a limit of 200 (batches of 4) take turns: between them the source gets its
    200 requests and at most a batch less one per worker beyond, never one more."""
    store, name = open_store(), _name()
    workers = [
        BatchedLimiter(store, name, 200, WINDOW),
        BatchedLimiter(open_store(), name, 200, WINDOW),
    ]
    assert workers[0].batch == 4
    answered = [workers[turn % 2].hit("t:10.0.0.1") for turn in range(220)]
    let_in = next(turn for turn, wait in enumerate(answered) if wait is not None)
    assert 200 <= let_in <= 200 + 2 * (4 - 1)
    assert all(wait is not None for wait in answered[let_in + 2 :]), "both workers refuse it"
    assert _count(store, name, "t:10.0.0.1") <= 200 + 2 * 4


def test_a_batch_the_store_could_not_take_is_kept_for_the_next_write(open_store, clock):
    store, name = _Interrupted(open_store()), _name()
    limiter = BatchedLimiter(store, name, 100, WINDOW)
    assert limiter.batch == 2
    assert limiter.hit("t:10.0.0.1") is None
    store.down = True
    with pytest.raises(StoreUnavailable):
        limiter.hit("t:10.0.0.1")
    store.down = False
    assert limiter.hit("t:10.0.0.1") is None
    assert _count(store, name, "t:10.0.0.1") == 3, "no request lost to the outage"


class _Interrupted:
    """A store whose connection can be cut: while `down`, a write raises as the backends do
    when they cannot be reached (the loss of a network is not something loopback can do)."""

    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store
        self.down = False

    def incr(self, key: str, ttl: float, by: int = 1) -> int:
        if self.down:
            raise StoreUnavailable("connection refused")
        return self._store.incr(key, ttl, by)
