"""The database job queue (services/job_queue.py, DESIGN §9) on SQLite and on PostgreSQL: one
job runs in one consumer at a time, failures back off and end, and a job whose consumer was
killed (SIGKILL, in a process of its own) is taken up by another once the lease has run out."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from idp.models.job_repository import ClaimedJob, QueuedJobs
from idp.models.jobs import QueuedJob
from idp.services.container import Services
from idp.services.job_queue import GiveUp, JobQueue, RetryLater, RetryPolicy
from idp.services.tenancy.tenants import TenantView
from tests.support.factories import Factory
from tests.support.server import LiveServer

PATIENT = RetryPolicy(max_attempts=3, base_seconds=0.3, max_seconds=10)


@pytest.fixture(scope="module")
def tenant(server: LiveServer) -> TenantView:
    return Factory(server.services, server.url).tenant()


@pytest.fixture
def kind() -> str:
    """A kind of job no other test (and not the server's own queue) handles."""
    return f"test-{os.urandom(4).hex()}"


@pytest.fixture
def queues(services: Services) -> Iterator[list[JobQueue]]:
    """Queues a test builds over the shared database; stopped after it."""
    made: list[JobQueue] = []
    yield made
    for queue in made:
        queue.stop()


def new_queue(
    services: Services, queues: list[JobQueue], retry: RetryPolicy = PATIENT, **options: Any
) -> JobQueue:
    queue = JobQueue(services.session_factory, retry, **options)
    queues.append(queue)
    return queue


def put_due_job(services: Services, tenant: TenantView, kind: str) -> None:
    """A job written straight into the table: no queue of this process was woken by it."""
    with services.session_factory() as session:
        QueuedJobs(session).add(kind, tenant.id, {"n": 1}, datetime.now(UTC))
        session.commit()


def rows(services: Services, kind: str) -> list[QueuedJob]:
    with services.session_factory() as session:
        query = select(QueuedJob).where(QueuedJob.kind == kind).order_by(QueuedJob.id)
        return list(session.scalars(query))


def wait_until_empty(services: Services, kind: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while rows(services, kind):
        assert time.monotonic() < deadline, f"{len(rows(services, kind))} jobs still queued"
        time.sleep(0.05)


def test_of_consumers_racing_for_one_job_exactly_one_runs_it(services, queues, tenant, kind):
    ran: list[int] = []
    first, second = new_queue(services, queues), new_queue(services, queues)
    for queue in (first, second):
        queue.handle(kind, lambda job: ran.append(job.id))
    put_due_job(services, tenant, kind)  # no consumer started: the race is the test's own

    start = threading.Barrier(8)

    def race(queue: JobQueue) -> bool:
        start.wait()
        return queue.run_one()

    outcomes: list[bool] = []
    threads = [
        threading.Thread(target=lambda q=q: outcomes.append(race(q))) for q in [first, second] * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == [False] * 7 + [True]
    assert len(ran) == 1
    assert rows(services, kind) == []


def test_two_consumers_never_run_one_job_at_the_same_time(services, queues, tenant, kind):
    """Two queues (two instances, say), three consumer threads each, forty jobs: each job runs
    exactly once, and never in two threads at once."""
    running: set[int] = set()
    ran: list[int] = []
    overlaps: list[int] = []
    guard = threading.Lock()

    def handler(job: ClaimedJob) -> None:
        with guard:
            if job.id in running:
                overlaps.append(job.id)
            running.add(job.id)
        time.sleep(0.01)
        with guard:
            running.discard(job.id)
            ran.append(job.id)

    queue_a = new_queue(services, queues, consumers=3, poll_seconds=0.2)
    queue_b = new_queue(services, queues, consumers=3, poll_seconds=0.2)
    for queue in (queue_a, queue_b):
        queue.handle(kind, handler)
    queue_b.start()
    queue_a.enqueue(kind, tenant.id, [{"n": n} for n in range(40)])
    wait_until_empty(services, kind)
    assert overlaps == []
    assert len(ran) == 40 and len(set(ran)) == 40


def test_failures_back_off_exponentially_then_the_job_is_dropped(
    services, queues, tenant, kind, caplog
):
    attempts: list[int] = []

    def failing(job: ClaimedJob) -> None:
        attempts.append(job.attempts)
        raise RetryLater("HTTP 503")

    queue = new_queue(services, queues)
    queue.handle(kind, failing)
    put_due_job(services, tenant, kind)  # no consumer started: driven by hand below

    assert queue.run_one()
    (job,) = rows(services, kind)
    assert (job.attempts, job.last_error, job.claimed_by) == (1, "HTTP 503", None)
    first_wait = (job.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert 0.2 < first_wait <= 0.3
    assert not queue.run_one()  # not due yet

    time.sleep(first_wait + 0.05)
    assert queue.run_one()
    (job,) = rows(services, kind)
    second_wait = (job.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert 0.5 < second_wait <= 0.6  # twice the first
    time.sleep(second_wait + 0.05)
    assert queue.run_one()

    assert attempts == [1, 2, 3]
    assert rows(services, kind) == []  # max_attempts reached: dropped, and said so
    assert any("dropped after 3 attempts: HTTP 503" in r.getMessage() for r in caplog.records)


def test_a_job_that_cannot_succeed_ends_at_the_first_attempt(services, queues, tenant, kind):
    attempts: list[int] = []

    def refused(job: ClaimedJob) -> None:
        attempts.append(job.attempts)
        raise GiveUp("the destination is not public")

    queue = new_queue(services, queues, poll_seconds=0.1)
    queue.handle(kind, refused)
    queue.enqueue(kind, tenant.id, [{"n": 1}])
    wait_until_empty(services, kind)
    time.sleep(0.3)
    assert attempts == [1]


def test_an_unexpected_error_is_retried_and_logged_without_its_message(
    services, queues, tenant, kind, caplog
):
    def broken(job: ClaimedJob) -> None:
        raise ValueError("secret-looking detail")

    queue = new_queue(services, queues)
    queue.handle(kind, broken)
    put_due_job(services, tenant, kind)
    with caplog.at_level(logging.ERROR):
        assert queue.run_one()
    (job,) = rows(services, kind)
    assert (job.attempts, job.last_error) == (1, "ValueError")


CHILD = """
import sys, time
from pathlib import Path
from typing import Any
from idp.models.db import make_engine, make_session_factory
from idp.services.job_queue import JobQueue, RetryPolicy

url, kind, tenant_id, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
queue = JobQueue(
    make_session_factory(make_engine(url)), RetryPolicy(5, 1, 10), poll_seconds=0.1,
    lease_seconds=float(sys.argv[5]),
)

def hang(job):
    marker.write_text(str(job.id))
    time.sleep(600)

queue.handle(kind, hang)
queue.enqueue(kind, tenant_id, [{"n": 1}])
time.sleep(600)
"""


def test_a_job_whose_consumer_was_killed_is_taken_after_its_lease(
    services, queues, tenant, kind, tmp_path: Path
):
    """Another process enqueues a job, starts it, and is killed with SIGKILL mid-job: its lease
    keeps everyone off until it runs out, then this process runs the job (attempt 2)."""
    lease = 2.0
    marker = tmp_path / "started"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            services.settings.database.url,
            kind,
            str(tenant.id),
            str(marker),
            str(lease),
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None, "the child process died before claiming the job"
            assert time.monotonic() < deadline, "the child never started the job"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        child.kill()
        child.wait()

    (job,) = rows(services, kind)
    assert job.attempts == 1 and job.claimed_by is not None
    assert f":{child.pid}:" in job.claimed_by

    taken: list[ClaimedJob] = []
    queue = new_queue(services, queues)
    queue.handle(kind, taken.append)
    assert not queue.run_one()  # the dead holder's lease still stands
    while not queue.run_one():
        assert time.monotonic() - killed_at < lease + 5, "the expired lease was never taken over"
        time.sleep(0.1)
    assert time.monotonic() - killed_at >= lease - 0.5
    assert [(j.id, j.attempts, j.payload) for j in taken] == [(job.id, 2, {"n": 1})]
    assert rows(services, kind) == []


def test_a_queue_takes_only_the_kinds_it_handles(services, queues, tenant, kind):
    """A process without a handler for a kind (an older release, the `idp` command) leaves
    those jobs to the processes that have one."""
    bare = new_queue(services, queues)
    bare.enqueue(kind, tenant.id, [{"n": 1}])
    assert not bare.run_one()
    with services.session_factory() as session:
        attempts = session.scalar(select(QueuedJob.attempts).where(QueuedJob.kind == kind))
    assert attempts == 0
    done: list[int] = []
    handler = new_queue(services, queues)
    handler.handle(kind, lambda job: done.append(job.id))
    assert handler.run_one() and len(done) == 1
