"""Request ids and security headers on every response."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HTML_CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def request_id(incoming: str) -> str:
    """Only a well-formed incoming id is trusted into our logs; anything else is replaced."""
    return incoming if REQUEST_ID.match(incoming) else secrets.token_hex(8)


def security_headers(html: bool, https: bool) -> list[tuple[str, str]]:
    """The headers every response carries unless it set its own (e.g. a page's wider CSP)."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", HTML_CSP if html else API_CSP),
    ]
    if https:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


class EdgeHeaders:
    """The request id and security headers of a JSON answer made before Flask sees the request
    (idp/http/oauth/documents.py, fast_path.py): what `install`'s hooks add to Flask's."""

    def __init__(self, request_id_header: str, https: bool) -> None:
        self._name = request_id_header
        self._environ_key = "HTTP_" + request_id_header.upper().replace("-", "_")
        self._security = security_headers(html=False, https=https)

    def of(self, environ: dict[str, Any]) -> list[tuple[str, str]]:
        return [(self._name, request_id(environ.get(self._environ_key, ""))), *self._security]


def install(app: Flask, request_id_header: str, https: bool) -> None:
    @app.before_request
    def assign_request_id() -> None:
        g.request_id = request_id(request.headers.get(request_id_header, ""))

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers[request_id_header] = g.get("request_id", "")
        defaults = security_headers(response.mimetype == "text/html", https)
        # setdefault() for each, but one pass over the headers instead of one per default:
        # this runs on every response (bench/RESULTS.md).
        present = {name.lower() for name, _ in headers}
        headers.extend([(name, value) for name, value in defaults if name.lower() not in present])
        return response


class RequestIdFilter(logging.Filter):
    """Puts the request id on every log record made while handling a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Every worker checks the schema revision at boot; that is not news worth a log line.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
