"""The production path (DESIGN §9): gunicorn with several worker processes, as the Procfile runs
it, after `idp migrate` and `idp demo`. A revoked token must be inactive on every worker at once,
which only holds if revocation lives in the shared store and not in a worker's memory."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.backends import Backend, backend_for
from tests.support.cli import Installation
from tests.support.gunicorn import start
from tests.support.ports import free_port
from tests.support.processes import environ

WORKERS = 3
# Concurrent introspections per round, and rounds at most, to reach more than one worker.
PARALLEL = 8
ROUNDS = 25


@dataclass(frozen=True)
class Production:
    url: str
    demo: dict
    log: Path
    install: Installation

    def log_mark(self) -> int:
        """Where the access log ends now, so later requests can be told apart from earlier ones."""
        return len(self.log.read_text())

    def workers_since(self, mark: int, path: str, count: int) -> set[str]:
        """Pids of the workers that served the `count` requests to `path` logged after `mark`.

        A worker logs a request just after sending the response, so wait for the log to catch up.
        """
        deadline = time.monotonic() + 5
        while True:
            logged = self.log.read_text()[mark:]
            pids = re.findall(rf"pid=<(\d+)> \w+ {re.escape(path)} ", logged)
            if len(pids) >= count or time.monotonic() > deadline:
                return set(pids)
            time.sleep(0.1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    yield from backend_for(request, tmp_path_factory)


@pytest.fixture(scope="module")
def production(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    install = Installation.create(
        tmp_path_factory.mktemp(f"gunicorn-{backend.name}"),
        backend.database_url,
        IDP_SERVER__PUBLIC_URL=url,
        IDP_REDIS__URL=backend.redis_url,
        IDP_REDIS__KEY_PREFIX=backend.redis_prefix,
    )
    migrated = install.run("migrate")
    assert migrated.code == 0, migrated.stderr
    demo = install.json("demo")
    server = start(install, port, workers=WORKERS)
    try:
        yield Production(url, demo, server.log, install)
    finally:
        server.stop()
    assert "Traceback" not in server.log_text(), server.log_tail()


def test_ready(production: Production) -> None:
    ready = requests.get(f"{production.url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "store": "ok"}


def test_the_demo_prints_its_credentials_and_a_curl_line_that_gets_a_token(
    production: Production,
) -> None:
    """What `make run` shows a new user (`idp demo` without --json), tried as they would."""
    shown = production.install.run("demo")
    assert shown.code == 0, shown.stderr
    lines = dict(line.split(": ", 1) for line in shown.stdout.splitlines())
    assert lines["issuer"] == f"{production.url}/t/demo"
    for name in ("client_id", "client_secret", "user_email", "user_password"):
        assert lines[name] == production.demo[name], name
    if shutil.which("curl") is None:  # .ci/run installs it
        pytest.skip("curl is not installed: the demo's curl line cannot be tried")
    curl = subprocess.run(shlex.split(lines["try"]), capture_output=True, text=True, timeout=30)
    assert curl.returncode == 0, curl.stderr
    answer = json.loads(curl.stdout)
    assert answer["token_type"] == "Bearer" and answer["access_token"].count(".") == 2


def test_issuer_follows_public_url(production: Production) -> None:
    assert production.demo["issuer"] == f"{production.url}/t/demo"
    metadata = requests.get(production.demo["discovery"], timeout=5).json()
    assert metadata["issuer"] == production.demo["issuer"]


def introspect(production: Production, token: str) -> dict:
    """Over a new connection each time, so the kernel hands it to any of the workers."""
    with requests.Session() as fresh:
        answer = fresh.post(
            f"{production.demo['issuer']}/introspect",
            data={"token": token},
            auth=(production.demo["client_id"], production.demo["client_secret"]),
            headers={"Connection": "close"},
            timeout=10,
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


def introspect_from_many_workers(production: Production, token: str) -> list[dict]:
    """Introspect until at least two workers have answered, and return every answer.

    The kernel may hand a run of sequential connections to the same idle worker, so the probes go
    out in concurrent rounds, which busy workers cannot all absorb, until the log shows a second
    worker took part (or the rounds run out and the caller's assertion says so).
    """
    answers: list[dict] = []
    mark = production.log_mark()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for _ in range(ROUNDS):
            answers += pool.map(lambda _: introspect(production, token), range(PARALLEL))
            if len(production.workers_since(mark, "/t/demo/introspect", len(answers))) > 1:
                break
    return answers


def test_revocation_is_seen_by_every_worker_at_once(production: Production) -> None:
    auth = (production.demo["client_id"], production.demo["client_secret"])
    issued = requests.post(
        f"{production.demo['issuer']}/token",
        data={"grant_type": "client_credentials"},
        auth=auth,
        timeout=10,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    # Workers first see the token active, so none can answer later from a stale view.
    assert all(answer["active"] for answer in introspect_from_many_workers(production, token))

    revoked = requests.post(
        f"{production.demo['issuer']}/revoke", data={"token": token}, auth=auth, timeout=10
    )
    assert revoked.status_code == 200

    mark = production.log_mark()
    answers = introspect_from_many_workers(production, token)
    assert answers == [{"active": False}] * len(answers)
    assert len(production.workers_since(mark, "/t/demo/introspect", len(answers))) > 1


def test_idp_serve_runs_gunicorn_from_any_directory(tmp_path: Path) -> None:
    """`make run` ends in `idp serve`; it must find gunicorn.conf.py wherever it runs."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    install = Installation.create(tmp_path, f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    assert install.run("migrate").code == 0
    server = start(install, port, workers=2, access_log=False, idp_serve=True)
    try:
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
        for worker in server.workers():  # on lean bytecode (idp/bytecode.py)
            assert environ(worker)["PYTHONOPTIMIZE"] == "2"
    finally:
        server.stop()
