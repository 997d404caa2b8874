"""How the two supported HTTP servers are started (`idp serve`, the Procfile, `make bench`).

gunicorn (gthread workers, `gunicorn.conf.py`) is the default, as DESIGN §9 names it. granian
(a Rust HTTP server with a WSGI interface) is the supported alternative where a core must serve
more: its HTTP handling costs a fraction of gunicorn's, which bounds the JWKS and discovery
documents (bench/RESULTS.md). Both get the same settings from the same variables: HOST and PORT,
WEB_CONCURRENCY workers (by default, per usable CPU, two under gunicorn and one under granian;
at most four), GUNICORN_THREADS request threads per worker, IDP_ACCESS_LOG, a 20-second
graceful shutdown on SIGTERM, and a worker that dies is replaced. The app is the same
`create_app()` behind either.
"""

from __future__ import annotations

import ctypes
import multiprocessing.util
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from idp.crypto.passwords import cores_of_this_process

if TYPE_CHECKING:
    from flask import Flask

SERVERS = ("gunicorn", "granian")
WORKERS_PER_CPU = {"gunicorn": 2, "granian": 1}  # by default (`workers`)
THREADS = 4
GRACEFUL_SECONDS = 20
M_ARENA_MAX = -8  # glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
# Far below an argon2id block (19 MiB at the shipped cost; OWASP's smallest is 7 MiB), above
# what a request allocates in one piece (a 2 MB picture upload aside).
MMAP_THRESHOLD = 1024 * 1024


def workers(env: Mapping[str, str], server: str) -> int:
    """WEB_CONCURRENCY, else a default per server, at most four (the embedded SQLite store is
    shared through the database file). gunicorn: two per usable CPU, since more processes per
    core only cost memory. granian: one per usable CPU. Its HTTP handling runs on Rust threads
    outside the GIL, so a second worker on the same core adds no capacity, only a second copy
    of every cache for the core's caches to hold: one worker per core served 5-22% more
    tokens, sign-ins and refreshes per CPU-second than two, and kept more of its rate with
    10,000 tenants (bench/RESULTS.md)."""
    default = min(4, WORKERS_PER_CPU[server] * cores_of_this_process())
    return int(env.get("WEB_CONCURRENCY", default))


def threads(env: Mapping[str, str]) -> int:
    """Request threads per worker: keep-alive connections and database waits overlap."""
    return int(env.get("GUNICORN_THREADS", str(THREADS)))


def granian_argv(
    granian: str, env: Mapping[str, str], target: str = "idp.serving:granian_app"
) -> list[str]:
    """granian's command line for `target`, a factory called once in each worker, with the
    settings `env` gives (the variables gunicorn.conf.py reads)."""
    return [
        granian,
        "--interface", "wsgi",
        "--factory",
        "--host", env.get("HOST", "0.0.0.0"),  # noqa: S104 (as gunicorn.conf.py)
        "--port", env.get("PORT", "5000"),
        "--http", "1",  # HTTP/1.1 only, as gunicorn
        "--no-ws",
        "--workers", str(workers(env, "granian")),
        "--blocking-threads", str(threads(env)),
        "--respawn-failed-workers",
        "--workers-kill-timeout", str(GRACEFUL_SECONDS),
        "--access-log" if env.get("IDP_ACCESS_LOG", "") == "1" else "--no-access-log",
        target,
    ]  # fmt: skip


def tune_malloc(env: Mapping[str, str]) -> None:
    """One glibc malloc arena per worker, and large blocks handed back to the system when
    freed, unless MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ say otherwise.

    Each argon2id computation takes a 19 MiB block. glibc gives each request thread an arena of
    its own, and each kept the block its last verification used: a worker grew by ~76 MB after
    sign-ins on 4 threads, ~150 MB on 8. With one arena the threads share one heap; and glibc
    raises its mmap threshold to the size of the first large block freed, after which such
    blocks come from that heap and stay in the worker for good (40-60 MB after the bench's
    sign-ins). A fixed threshold keeps every block over MMAP_THRESHOLD in a mapping of its own,
    returned when freed: the worker's memory after hashing a new password is what it was
    before. (Verifications, the frequent case, take their block from crypto/argon2_blocks.py
    in huge pages, which costs the kernel a third of what malloc's fresh mapping does.) Called
    in each worker before its request threads start, so no thread has an arena of its own yet.
    The GIL already serialises most allocations, so the shared arena's lock costs nothing
    measurable.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return
    mallopt = getattr(libc, "mallopt", None)  # musl has none
    if mallopt is None:
        return
    # glibc read these variables at start-up: they win.
    if "MALLOC_ARENA_MAX" not in env:
        mallopt(M_ARENA_MAX, 1)
    if "MALLOC_MMAP_THRESHOLD_" not in env:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def granian_app() -> Flask:
    """The app in one granian worker (the factory `idp serve --server granian` names)."""
    from idp import create_app

    return in_granian_worker(create_app())


def in_granian_worker(app: Flask) -> Flask:
    """What gunicorn.conf.py's hooks do for gunicorn: the job queue's consumers start with the
    worker and, when it stops gracefully, finish the job in hand. granian runs each worker as a
    multiprocessing child, which skips atexit but runs multiprocessing's finalizers on a normal
    exit."""
    tune_malloc(os.environ)
    jobs = app.extensions["idp.services"].jobs
    jobs.start()
    multiprocessing.util.Finalize(None, jobs.stop, exitpriority=10)
    return app
