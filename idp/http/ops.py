"""Operations endpoints: liveness and readiness (DESIGN §1)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from idp.context import services

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up; says nothing about its dependencies."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the database and the short-lived store both answer."""
    container = services()
    checks = {}
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # any failure means not ready; the details go to the log only
        log.exception("readiness: database unreachable")
        checks["database"] = "unavailable"
    try:
        container.store.ping()
        checks["store"] = "ok"
    except Exception:
        log.exception("readiness: store unreachable")
        checks["store"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
