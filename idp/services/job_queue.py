"""Work that must happen later, queued in the database (DESIGN §9): a crashed worker loses none.

`enqueue` writes rows (models/jobs.py); consumer threads in every worker process of every
instance claim due ones under a lease, run the handler registered for their kind, and delete
them when it returns. A handler that raises is retried with exponential backoff, up to
`max_attempts`; one that raises GiveUp is not retried at all. Delivery is at least once: a
consumer that dies after the work but before the delete leaves a job that runs again once its
lease has run out, so handlers must be safe to repeat.

A job that fails for good is deleted and logged, not kept as a dead row: what is queued here is
only worth doing soon (a logout token says "this session ended", a mail says "click within the
hour"), so a dead row would be nothing anyone could usefully replay, and keeping them would let a
client that never answers grow the table without bound.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from idp.models.failures import database_unreachable
from idp.models.job_repository import ClaimedJob, QueuedJobs
from idp.settings import QueueSettings

# Candidates read per poll: enough that consumers racing for the first one each find another.
CLAIM_CANDIDATES = 8
# Clocks: a retry is looked for this long after it falls due, never just before.
RETRY_SLACK = 0.05
# How long stop() waits for a consumer in the middle of a job (its lease covers the rest).
STOP_TIMEOUT = 10.0

Handler = Callable[[ClaimedJob], None]

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """This attempt failed and a later one may succeed. The message is stored as the job's
    `last_error` and logged: a status or an error class, never a token, secret or URL."""


class GiveUp(Exception):
    """No attempt can succeed (the destination is refused, the client is gone): the job ends
    now. The message is logged, with the same care as RetryLater's."""


@dataclass(frozen=True)
class Attempt:
    """How one attempt ended: done (the job is gone), retrying later, or abandoned for good."""

    outcome: Literal["done", "retrying", "abandoned"]
    failure: str | None  # RetryLater's or GiveUp's message


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure: base, twice that, four times..."""
        return min(self.base_seconds * 2 ** (attempts - 1), self.max_seconds)


class JobQueue:
    """The queue and this process's consumers of it.

    Consumers start in each process that needs them, after the fork: on the first `enqueue` in
    the process, and from gunicorn's `post_worker_init` (gunicorn.conf.py), so a worker that
    queued nothing still drains what a dead one left. A local `enqueue` wakes them at once;
    otherwise they look every `poll_seconds`.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        retry: RetryPolicy,
        *,
        consumers: int = 2,
        poll_seconds: float = 5.0,
        lease_seconds: float = 60.0,
    ) -> None:
        self._session_factory = session_factory
        self._retry = retry
        self._consumers = consumers
        self._poll_seconds = poll_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._handlers: dict[str, Handler] = {}
        self._exit_hook = False
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    @classmethod
    def from_settings(
        cls, session_factory: sessionmaker[Session], settings: QueueSettings
    ) -> JobQueue:
        retry = RetryPolicy(
            settings.max_attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        return cls(
            session_factory,
            retry,
            consumers=settings.consumers,
            poll_seconds=settings.poll_seconds,
            lease_seconds=settings.lease_seconds,
        )

    def handle(self, kind: str, handler: Handler) -> None:
        """Run `handler` for jobs of `kind`. A process takes only the kinds it can handle."""
        self._handlers[kind] = handler

    def enqueue(self, kind: str, tenant_id: int, payloads: Sequence[dict[str, Any]]) -> None:
        """Queue one job per payload, committed before this returns, and wake the consumers."""
        if not payloads:
            return
        with self._session_factory() as session:
            self.add(session, kind, tenant_id, payloads)
            session.commit()
        self.wake()

    def add(
        self, session: Session, kind: str, tenant_id: int, payloads: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Queue jobs in the caller's transaction: they exist exactly when what made them
        owed does (a session ended, an account created). Call `wake` after the commit.
        Returns the jobs' ids (written, not yet committed)."""
        now = _now()
        jobs = QueuedJobs(session)
        rows = [jobs.add(kind, tenant_id, payload, now) for payload in payloads]
        session.flush()
        return [row.id for row in rows]

    def wake(self) -> None:
        """Have this process's consumers look now, starting them if need be."""
        self.start()
        self._wake.set()

    def start(self) -> None:
        """Start this process's consumers, once per process; a no-op after that."""
        with self._lock:
            if self._threads:
                return
            self._stop.clear()
            for number in range(self._consumers):
                thread = threading.Thread(
                    target=self._consume, name=f"job-consumer-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
            if not self._exit_hook:  # a forked child inherits the hook with the rest of atexit
                atexit.register(self.stop)
                self._exit_hook = True

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop this process's consumers, letting one in the middle of a job finish it."""
        with self._lock:
            threads, self._threads = self._threads, []
            self._stop.set()
            self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run_one(self) -> bool:
        """Claim one due job and run it; False when none was due (or others took them all)."""
        claimed = self._claim(_owner())
        if claimed is None:
            return False
        self._run(*claimed)
        return True

    def run_now(self, job_id: int) -> Attempt | None:
        """Claim this job and make an attempt here, as a consumer would; None when it is not
        due or another consumer holds it. For a command that wants to report the first try
        (`idp mail test`) instead of leaving it to a server that may not be running."""
        owner, now = _owner(), _now()
        with self._session_factory() as session:
            job = QueuedJobs(session).claim(
                job_id, tuple(self._handlers), owner, now, now + self._lease
            )
            if job is None:
                return None
            session.commit()
        return self._run(job, owner)

    def _claim(self, owner: str) -> tuple[ClaimedJob, str] | None:
        now = _now()
        kinds = tuple(self._handlers)
        if not kinds:
            return None
        with self._session_factory() as session:
            jobs = QueuedJobs(session)
            for job_id in jobs.due(kinds, now, CLAIM_CANDIDATES):
                job = jobs.claim(job_id, kinds, owner, now, now + self._lease)
                if job is not None:
                    session.commit()
                    return job, owner
        return None

    def _run(self, job: ClaimedJob, owner: str) -> Attempt:
        try:
            self._handlers[job.kind](job)
        except GiveUp as reason:
            log.warning("%s job %d abandoned: %s", job.kind, job.id, reason)
            self._finish(job)
            return Attempt("abandoned", str(reason))
        except Exception as error:
            if isinstance(error, RetryLater):
                failure = str(error)
            else:  # a bug, or a dependency down: the traceback is ours, not a token
                log.exception("%s job %d raised", job.kind, job.id)
                failure = type(error).__name__
            return self._failed(job, owner, failure)
        self._finish(job)
        return Attempt("done", None)

    def _failed(self, job: ClaimedJob, owner: str, failure: str) -> Attempt:
        if job.attempts >= self._retry.max_attempts:
            log.warning(
                "%s job %d dropped after %d attempts: %s", job.kind, job.id, job.attempts, failure
            )
            self._finish(job)
            return Attempt("abandoned", failure)
        delay = self._retry.delay(job.attempts)
        log.warning(
            "%s job %d failed (attempt %d of %d, next in %.0f s): %s",
            job.kind,
            job.id,
            job.attempts,
            self._retry.max_attempts,
            delay,
            failure,
        )
        with self._session_factory() as session:
            QueuedJobs(session).retry_later(
                job.id, owner, _now() + timedelta(seconds=delay), failure
            )
            session.commit()
        # This process looks again when the retry is due, not a poll interval later.
        with self._lock:
            due = time.monotonic() + delay + RETRY_SLACK
            self._next_retry = due if self._next_retry is None else min(self._next_retry, due)
        self._wake.set()
        return Attempt("retrying", failure)

    def _finish(self, job: ClaimedJob) -> None:
        with self._session_factory() as session:
            QueuedJobs(session).finish(job.id)
            session.commit()

    def _consume(self) -> None:
        stop, wake = self._stop, self._wake
        while not stop.is_set():
            # Cleared before looking, so an enqueue during the look is not missed.
            wake.clear()
            looked_at = time.monotonic()
            try:
                while not stop.is_set() and self.run_one():
                    pass
            except Exception as error:  # the consumer must outlive any one failure
                if not database_unreachable(error):
                    log.exception("the job queue could not be read; trying again later")
                else:  # the jobs wait in the database, leased or not, until it answers again
                    log.warning("the job queue is unreachable (%s); trying again later", error)
            wake.wait(self._until_next_look(looked_at))

    def _until_next_look(self, looked_at: float) -> float:
        """The poll interval, or less when a retry this process scheduled falls due sooner."""
        with self._lock:
            if self._next_retry is not None and self._next_retry <= looked_at:
                self._next_retry = None  # the look just made found it
            if self._next_retry is None:
                return self._poll_seconds
            return min(self._poll_seconds, max(0.0, self._next_retry - time.monotonic()))

    def _reset(self) -> None:
        """A new process (or a forked child): no consumer runs here yet, and a lock a parent
        thread held at the fork would never be released."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_retry: float | None = None


def _owner() -> str:
    """Who holds a lease: host, process and thread, for an operator reading the table."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{threading.current_thread().name}"


def _now() -> datetime:
    return datetime.now(UTC)
