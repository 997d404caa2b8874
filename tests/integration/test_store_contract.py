"""One contract (DESIGN §3) run against every short-lived store backend.

SqlStore runs on SQLite and on PostgreSQL, RedisStore on Redis. Concurrency is exercised with
threads sharing one store, and with separate processes each opening their own store, because
gunicorn workers are processes.
"""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from idp.models.db import make_engine
from idp.models.schema import upgrade
from idp.models.store_entries import StoreEntry
from idp.stores.base import ShortLivedStore
from idp.stores.redis import RedisStore
from idp.stores.sql import SqlStore
from tests.support.backends import sqlite_backend

CALLERS = 20
SHORT_TTL = 0.2
LONG_TTL = 60.0


@dataclass(frozen=True)
class StoreFactory:
    """Opens a new store on the same backend, as another worker process would."""

    name: str
    open: Callable[[], ShortLivedStore]


def _sql_factory(name: str, database_url: str) -> StoreFactory:
    upgrade(make_engine(database_url))
    return StoreFactory(name, lambda: SqlStore(make_engine(database_url)))


@pytest.fixture(scope="session", params=["sql-sqlite", "sql-postgres", "redis"])
def factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> StoreFactory:
    if request.param == "sql-sqlite":
        backend = sqlite_backend(tmp_path_factory.mktemp("store"))
        return _sql_factory(request.param, backend.database_url)
    backend = request.getfixturevalue("postgres_redis")
    if request.param == "sql-postgres":
        return _sql_factory(request.param, backend.database_url)
    return StoreFactory(request.param, lambda: RedisStore(backend.redis_url, backend.redis_prefix))


@pytest.fixture(scope="session")
def store(factory: StoreFactory) -> ShortLivedStore:
    return factory.open()


@pytest.fixture
def key() -> str:
    """A key no other test uses, so tests share one store without seeing each other."""
    return f"contract:{secrets.token_hex(8)}"


def test_put_then_get(store: ShortLivedStore, key: str) -> None:
    store.put(key, "value", LONG_TTL)
    assert store.get(key) == "value"


def test_put_replaces(store: ShortLivedStore, key: str) -> None:
    store.put(key, "first", LONG_TTL)
    store.put(key, "second", LONG_TTL)
    assert store.get(key) == "second"


def test_get_of_unknown_key_is_none(store: ShortLivedStore, key: str) -> None:
    assert store.get(key) is None


def test_get_many_answers_each_key_in_order(store: ShortLivedStore, key: str) -> None:
    store.put(f"{key}:a", "first", LONG_TTL)
    store.put(f"{key}:c", "third", SHORT_TTL)
    store.put(f"{key}:d", "fourth", LONG_TTL)
    assert store.get_many([f"{key}:d", f"{key}:b", f"{key}:a", f"{key}:c"]) == [
        "fourth",
        None,
        "first",
        "third",
    ]
    time.sleep(SHORT_TTL + 0.1)
    assert store.get_many([f"{key}:c", f"{key}:a"]) == [None, "first"]


def test_put_many_sets_each_entry_with_its_own_ttl(store: ShortLivedStore, key: str) -> None:
    store.put(f"{key}:a", "old", LONG_TTL)
    store.put_many(
        [
            (f"{key}:a", "first", LONG_TTL),
            (f"{key}:b", "second", SHORT_TTL),
            (f"{key}:a", "last", LONG_TTL),
        ]
    )
    assert store.get_many([f"{key}:a", f"{key}:b"]) == ["last", "second"]
    time.sleep(SHORT_TTL + 0.1)
    assert store.get_many([f"{key}:a", f"{key}:b"]) == ["last", None]


def test_put_many_of_many_entries_and_of_none(store: ShortLivedStore, key: str) -> None:
    store.put_many([])
    entries = [(f"{key}:{number}", str(number), LONG_TTL) for number in range(1200)]
    store.put_many(entries)
    assert store.get_many([f"{key}:0", f"{key}:777", f"{key}:1199"]) == ["0", "777", "1199"]


def test_swap_replaces_only_the_expected_value(store: ShortLivedStore, key: str) -> None:
    assert store.swap(key, "anything", "new", LONG_TTL) is False
    assert store.get(key) is None
    store.put(key, "seen", LONG_TTL)
    assert store.swap(key, "other", "new", LONG_TTL) is False
    assert store.get(key) == "seen"
    assert store.swap(key, "seen", "new", LONG_TTL) is True
    assert store.get(key) == "new"


def test_swap_sets_the_new_ttl_and_ignores_expired_values(store: ShortLivedStore, key: str) -> None:
    store.put(key, "seen", LONG_TTL)
    assert store.swap(key, "seen", "short", SHORT_TTL) is True
    time.sleep(SHORT_TTL + 0.1)
    assert store.get(key) is None
    assert store.swap(key, "short", "revived", LONG_TTL) is False
    assert store.get(key) is None


def test_entry_expires_after_its_ttl(store: ShortLivedStore, key: str) -> None:
    store.put(key, "value", SHORT_TTL)
    assert store.get(key) == "value"
    time.sleep(SHORT_TTL + 0.1)
    assert store.get(key) is None


def test_add_sets_only_when_absent(store: ShortLivedStore, key: str) -> None:
    assert store.add(key, "first", LONG_TTL) is True
    assert store.add(key, "second", LONG_TTL) is False
    assert store.get(key) == "first"


def test_add_after_expiry_succeeds_again(store: ShortLivedStore, key: str) -> None:
    assert store.add(key, "first", SHORT_TTL) is True
    time.sleep(SHORT_TTL + 0.1)
    assert store.add(key, "second", LONG_TTL) is True
    assert store.get(key) == "second"


def test_take_returns_the_value_once(store: ShortLivedStore, key: str) -> None:
    store.put(key, "code", LONG_TTL)
    assert store.take(key) == "code"
    assert store.take(key) is None
    assert store.get(key) is None


def test_take_of_expired_entry_is_none(store: ShortLivedStore, key: str) -> None:
    store.put(key, "code", SHORT_TTL)
    time.sleep(SHORT_TTL + 0.1)
    assert store.take(key) is None


def test_delete_forgets_the_key(store: ShortLivedStore, key: str) -> None:
    store.put(key, "value", LONG_TTL)
    store.delete(key)
    assert store.get(key) is None
    store.delete(key)  # deleting what is absent is not an error


def test_incr_counts_within_its_window(store: ShortLivedStore, key: str) -> None:
    assert [store.incr(key, LONG_TTL) for _ in range(3)] == [1, 2, 3]


def test_incr_adds_a_batch_at_once(store: ShortLivedStore, key: str) -> None:
    """A worker adds the requests it counted itself in one step (services/rate_limits.py)."""
    assert [store.incr(key, LONG_TTL, by=5), store.incr(key, LONG_TTL)] == [5, 6]
    assert store.incr(key, LONG_TTL, by=3) == 9


def test_incr_resets_after_its_window(store: ShortLivedStore, key: str) -> None:
    store.incr(key, SHORT_TTL)
    store.incr(key, SHORT_TTL)
    time.sleep(SHORT_TTL + 0.1)
    assert store.incr(key, SHORT_TTL) == 1
    time.sleep(SHORT_TTL + 0.1)
    assert store.incr(key, SHORT_TTL, by=4) == 4


def test_incr_window_is_fixed_not_sliding(store: ShortLivedStore, key: str) -> None:
    """Counting must not extend the window, or a steady trickle would never be let off."""
    store.incr(key, 0.4)
    time.sleep(0.25)
    assert store.incr(key, 0.4) == 2
    time.sleep(0.25)
    assert store.incr(key, 0.4) == 1


def test_ping(store: ShortLivedStore) -> None:
    store.ping()


def _race(call: Callable[[], object]) -> list[object]:
    """Run `call` in CALLERS threads released at the same moment; return every result."""
    barrier = threading.Barrier(CALLERS)

    def contender() -> object:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        futures = [pool.submit(contender) for _ in range(CALLERS)]
        return [future.result(timeout=60) for future in futures]


def test_take_once_under_concurrent_threads(store: ShortLivedStore, key: str) -> None:
    store.put(key, "code", LONG_TTL)
    results = _race(lambda: store.take(key))
    assert results.count("code") == 1
    assert results.count(None) == CALLERS - 1


def test_add_once_under_concurrent_threads(store: ShortLivedStore, key: str) -> None:
    results = _race(lambda: store.add(key, "nonce", LONG_TTL))
    assert results.count(True) == 1


def test_add_once_after_expiry_under_concurrent_threads(store: ShortLivedStore, key: str) -> None:
    store.put(key, "old", SHORT_TTL)
    time.sleep(SHORT_TTL + 0.1)
    results = _race(lambda: store.add(key, "nonce", LONG_TTL))
    assert results.count(True) == 1


def test_incr_under_concurrent_threads_counts_every_call(store: ShortLivedStore, key: str) -> None:
    results = _race(lambda: store.incr(key, LONG_TTL))
    assert sorted(results) == list(range(1, CALLERS + 1))  # type: ignore[type-var]


# Processes are forked so that each one opens its own connections, as a gunicorn worker does.
_fork = multiprocessing.get_context("fork")


def _process_contender(
    factory: StoreFactory,
    operation: str,
    key: str,
    barrier: threading.Barrier,
    results: multiprocessing.Queue,
) -> None:
    store = factory.open()
    calls: dict[str, Callable[[], object]] = {
        "take": lambda: store.take(key),
        "add": lambda: store.add(key, "nonce", LONG_TTL),
        "incr": lambda: store.incr(key, LONG_TTL),
    }
    store.ping()  # connect before the start line, so the race is between operations
    barrier.wait(timeout=30)
    try:
        results.put(calls[operation]())
    except Exception as error:  # reported to the parent, which fails the test with it
        results.put(f"error: {error!r}")


def _race_processes(factory: StoreFactory, operation: str, key: str) -> list[object]:
    barrier = _fork.Barrier(CALLERS)
    results: multiprocessing.Queue = _fork.Queue()
    processes = [
        _fork.Process(target=_process_contender, args=(factory, operation, key, barrier, results))
        for _ in range(CALLERS)
    ]
    for process in processes:
        process.start()
    try:
        return [results.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)


def test_take_once_under_concurrent_processes(
    factory: StoreFactory, store: ShortLivedStore, key: str
) -> None:
    store.put(key, "code", LONG_TTL)
    results = _race_processes(factory, "take", key)
    assert results.count("code") == 1, results
    assert results.count(None) == CALLERS - 1, results


def test_add_once_under_concurrent_processes(
    factory: StoreFactory, store: ShortLivedStore, key: str
) -> None:
    results = _race_processes(factory, "add", key)
    assert results.count(True) == 1, results
    assert results.count(False) == CALLERS - 1, results


def test_incr_under_concurrent_processes_counts_every_call(
    factory: StoreFactory, store: ShortLivedStore, key: str
) -> None:
    results = _race_processes(factory, "incr", key)
    assert sorted(results) == list(range(1, CALLERS + 1)), results  # type: ignore[type-var]


def test_sql_store_purges_expired_rows(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Not part of the contract: the SQL table must not grow without bound."""
    engine = make_engine(sqlite_backend(tmp_path_factory.mktemp("purge")).database_url)
    upgrade(engine)
    store = SqlStore(engine, purge_one_in=1)
    for n in range(5):
        store.put(f"old-{n}", "value", SHORT_TTL)
    time.sleep(SHORT_TTL + 0.1)
    store.put("new", "value", LONG_TTL)
    with engine.connect() as connection:
        assert connection.scalars(select(StoreEntry.key)).all() == ["new"]
    engine.dispose()
