"""The in-memory usage recorder against real databases: exact sums whatever the interleaving.

Each recorder stands for one server process; several share a database as workers do.
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from idp.crypto.kek import load_kek
from idp.models.db import make_engine, make_session_factory
from idp.models.schema import upgrade
from idp.models.uow import UnitOfWork
from idp.services.errors import InvalidInput
from idp.services.tenancy import tenants as tenant_service
from idp.services.tenancy.usage import UsageRecorder, parse_range, usage_report, utc_today

DAY = date(2026, 3, 1)


def tokens_on(uow: UnitOfWork, tenant, day: date = DAY) -> dict[str | None, int]:
    report = usage_report(uow, tenant, day, day)
    return {c["client_id"]: c["tokens_issued"] for c in report.clients}


def test_recorders_sharing_a_database_sum_exactly_under_concurrent_flushes(services, make):
    tenant = make.tenant()
    workers = [UsageRecorder(services.session_factory, 3600, today=lambda: DAY) for _ in range(2)]
    per_thread, threads_per_worker = 400, 4
    done = threading.Event()

    def count(recorder: UsageRecorder) -> None:
        for n in range(per_thread):
            recorder.record_token_issued(tenant.id, "shared" if n % 2 else "own")

    def flush_repeatedly() -> None:
        while not done.is_set():
            for recorder in workers:
                recorder.flush()

    flusher = threading.Thread(target=flush_repeatedly)
    flusher.start()
    counters = [
        threading.Thread(target=count, args=(recorder,))
        for recorder in workers
        for _ in range(threads_per_worker)
    ]
    for thread in counters:
        thread.start()
    for thread in counters:
        thread.join()
    done.set()
    flusher.join()
    for recorder in workers:
        recorder.flush()
        recorder.close()

    half = len(workers) * threads_per_worker * per_thread // 2
    assert tokens_on(services.uow(), tenant) == {"own": half, "shared": half}


def test_counts_of_a_deleted_tenant_are_dropped_without_losing_the_others(services, make):
    kept, deleted = make.tenant(), make.tenant()
    recorder = UsageRecorder(services.session_factory, 3600, today=lambda: DAY)
    recorder.record_token_issued(kept.id, "app")
    recorder.record_token_issued(deleted.id, "app")
    recorder.record_failure(deleted.id, None)
    tenant_service.delete_tenant(services.uow(), deleted.slug)

    recorder.flush()
    assert tokens_on(services.uow(), kept) == {"app": 1}
    assert recorder.flush() == 0  # nothing left over to retry forever
    recorder.close()


def test_the_background_flusher_writes_without_being_asked(services, make):
    tenant = make.tenant()
    recorder = UsageRecorder(services.session_factory, 1, today=lambda: DAY)
    recorder.record_token_issued(tenant.id, "app")
    deadline = time.monotonic() + 30  # generous: this waits for the thread, it times nothing
    while tokens_on(services.uow(), tenant) != {"app": 1}:
        assert time.monotonic() < deadline, "the flusher never wrote the count"
        time.sleep(0.1)
    recorder.close()
    assert tokens_on(services.uow(), tenant) == {"app": 1}


def test_close_writes_what_is_left(services, make):
    tenant = make.tenant()
    recorder = UsageRecorder(services.session_factory, 3600, today=lambda: DAY)
    recorder.record_token_issued(tenant.id, "app")
    recorder.record_token_issued(tenant.id, "app")
    recorder.close()
    assert tokens_on(services.uow(), tenant) == {"app": 2}


def test_a_failed_write_keeps_the_counts_for_the_next_flush(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'late.sqlite3'}")
    factory = make_session_factory(engine)
    recorder = UsageRecorder(factory, 3600, today=lambda: DAY)
    recorder.record_token_issued(1, "app")
    recorder.record_token_issued(1, "app")
    with pytest.raises(Exception, match="no such table"):
        recorder.flush()  # the database is not migrated yet

    upgrade(engine)
    kek = load_kek(tmp_path / "kek", None, create=True)
    tenant = tenant_service.create_tenant(UnitOfWork(factory), kek, "late", "Late")
    assert tenant.id == 1
    recorder.record_token_issued(1, "app")
    assert recorder.flush() == 1
    assert tokens_on(UnitOfWork(factory), tenant) == {"app": 3}
    recorder.close()
    engine.dispose()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (utc_today() - timedelta(days=29), utc_today())),
        ("2026-01-01", "2026-01-01", (date(2026, 1, 1), date(2026, 1, 1))),
        (None, "2026-02-10", (date(2026, 1, 12), date(2026, 2, 10))),
        ("2025-01-01", "2025-12-31", (date(2025, 1, 1), date(2025, 12, 31))),
    ],
)
def test_report_ranges(start, end, expected):
    assert parse_range(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-1-01", None), ("20260101", None), (None, "2026-W01-1"), ("2026-01-02", "2026-01-01")],
)
def test_malformed_or_reversed_ranges_are_refused(start, end):
    with pytest.raises(InvalidInput):
        parse_range(start, end)
