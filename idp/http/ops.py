"""Operations endpoints: liveness and readiness (DESIGN §1)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late

from flask import Blueprint, Response, current_app, jsonify
from flask.blueprints import BlueprintSetupState
from sqlalchemy import text

from idp.http.unavailable import cause_of

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)
PROBES = "idp.readiness_probes"
# A load balancer's probe gives up after a few seconds; answer before it does, whatever hangs.
PROBE_SECONDS = 2.0


class Probe:
    """One readiness check, run in a thread of its own so that a dependency that hangs (a
    pooled connection to a database that stopped answering has no timeout of its own) makes
    /readyz say "unavailable" after PROBE_SECONDS instead of hanging too. At most one run of the
    check is in flight: while a hung one lasts, later probes wait for it, never pile up."""

    def __init__(self, name: str, check: Callable[[], None]) -> None:
        self._name = name
        self._check = check
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"readyz-{name}")
        self._running: Future[None] | None = None
        self._lock = threading.Lock()

    def start(self) -> Future[None]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = self._executor.submit(self._check)
            return self._running

    def outcome(self, running: Future[None], deadline: float) -> str:
        try:
            running.result(timeout=max(0.0, deadline - time.monotonic()))
        except Late:
            log.warning("readiness: %s did not answer within %.1f s", self._name, PROBE_SECONDS)
            return "unavailable"
        except Exception as error:  # any failure means not ready; one line in the log says why
            log.warning("readiness: %s unreachable: %s", self._name, cause_of(error))
            return "unavailable"
        return "ok"


@bp.record_once
def _create_probes(state: BlueprintSetupState) -> None:
    container = state.app.extensions["idp.services"]

    def database() -> None:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    state.app.extensions[PROBES] = {
        "database": Probe("database", database),
        "store": Probe("store", container.store.ping),
    }


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up; says nothing about its dependencies."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the database and the short-lived store both answer, checked side by side
    so the answer comes within PROBE_SECONDS; `checks` names what is down."""
    probes: dict[str, Probe] = current_app.extensions[PROBES]
    deadline = time.monotonic() + PROBE_SECONDS
    running = {name: probe.start() for name, probe in probes.items()}
    checks = {name: probes[name].outcome(future, deadline) for name, future in running.items()}
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
