"""A platform key revoked from the command line is refused at once by every gunicorn worker
(issue 8). Keys are read from the database on each call; a per-worker cache of accepted keys
would let a revoked one live on in the workers that had seen it, and this test would see that."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.integration import test_gunicorn
from tests.integration.test_gunicorn import PARALLEL, ROUNDS, Production

# The production set-up of test_gunicorn (migrate, demo, gunicorn with several workers), started
# once for this module on each backend.
backend = test_gunicorn.backend
production = test_gunicorn.production
PATH = "/api/v1/platform/api-keys"


def status_of(production: Production, secret: str) -> int:
    """Over a new connection each time, so the kernel hands it to any of the workers."""
    with requests.Session() as fresh:
        answer = fresh.get(
            production.url + PATH,
            headers={"Authorization": f"Bearer {secret}", "Connection": "close"},
            timeout=10,
        )
    return answer.status_code


def statuses_from_many_workers(production: Production, secret: str) -> tuple[list[int], int]:
    """Call until at least two workers have answered: (every status, how many workers)."""
    statuses: list[int] = []
    mark = production.log_mark()
    workers: set[str] = set()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for _ in range(ROUNDS):
            statuses += pool.map(lambda _: status_of(production, secret), range(PARALLEL))
            workers = production.workers_since(mark, PATH, len(statuses))
            if len(workers) > 1:
                break
    return statuses, len(workers)


def test_a_platform_key_revoked_by_the_command_is_refused_by_every_worker(
    production: Production,
) -> None:
    issued = production.install.json("api-keys", "create", "--platform", "--name", "leaked")
    # Every worker that answers has accepted the key, so any of them could have kept it.
    before, workers = statuses_from_many_workers(production, issued["key"])
    assert before == [200] * len(before) and workers > 1

    production.install.json("api-keys", "revoke", "--platform", issued["id"])

    after, workers = statuses_from_many_workers(production, issued["key"])
    assert after == [401] * len(after) and workers > 1
