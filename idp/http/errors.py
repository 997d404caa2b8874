"""Error responses in the format each surface promises (DESIGN §7), never a stack trace.

Protocol paths answer RFC 6749 §5.2 JSON, operations paths plain JSON, everything else a friendly
page carrying the request id. Unexpected exceptions are logged with the request id and answered
500 in the same formats, without details; a store or database that cannot be reached is answered
503 with Retry-After in the same formats instead (idp/http/unavailable.py).
"""

from __future__ import annotations

import json
import logging
import re

from flask import Flask, Response, g, render_template, request
from werkzeug.exceptions import HTTPException

from idp.http import unavailable
from idp.http.api.problems import ApiProblem, problem_response

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
PROTOCOL_ENDPOINTS = ("/token", "/introspect", "/revoke", "/jwks.json", "/userinfo")
PROTOCOL_BLUEPRINTS = frozenset({"oauth", "well_known"})
# RFC 7591/7592: `{issuer}/register` and `{issuer}/register/{client_id}`.
REGISTRATION_PATH = re.compile(r"^/t/[^/]+/register(?:/[^/]+)?$")
# RFC 6749 §5.2 has no code for these HTTP-level refusals; invalid_request is the closest.
HTTP_ERROR_CODES = {404: "invalid_request", 405: "invalid_request", 413: "invalid_request"}


class OAuthHttpError(Exception):
    """Raised before Authlib runs (tenant, body shape): answered as RFC 6749 JSON."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def is_protocol_request() -> bool:
    """A protocol endpoint's path; of the paths a route took, only the protocol blueprints'
    (the account page's `apps/revoke` is a page). A path no route took is judged by its ending
    alone: a client's misspelt issuer still gets an RFC 6749 error."""
    path = request.path
    if path.startswith("/.well-known/"):
        return True
    protocol_path = path.startswith("/t/") and (
        path.endswith(PROTOCOL_ENDPOINTS)
        or "/.well-known/" in path
        or REGISTRATION_PATH.match(path) is not None
    )
    return protocol_path and (request.url_rule is None or request.blueprint in PROTOCOL_BLUEPRINTS)


def oauth_error(status: int, error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description})
    response = Response(body, status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(OAuthHttpError)
    def handle_oauth_error(error: OAuthHttpError) -> Response:
        return oauth_error(error.status, error.error, error.description)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        # RFC 9110 §15.5.6: a 405 response MUST list the allowed methods.
        allow = {k: v for k, v in error.get_headers() if k == "Allow"}
        if request.path.startswith(API_PREFIX):
            return problem_response(
                ApiProblem(status, error.name, error.description, headers=allow)
            )
        if is_protocol_request():
            description = error.description or error.name
            if status == 413:
                description = "The request body is too large."
            response = oauth_error(
                status, HTTP_ERROR_CODES.get(status, "invalid_request"), description
            )
            response.headers.extend(allow.items())
            return response
        return _page(status, error.name, headers=error.get_headers())

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        if unavailable.is_unavailable(error):
            log.warning(
                "%s %s answered 503: %s", request.method, request.path, unavailable.cause_of(error)
            )
            return _unavailable()
        log.exception("unhandled error in %s %s", request.method, request.path)
        if request.path.startswith(API_PREFIX):
            return problem_response(ApiProblem(500, "Internal server error"))
        if is_protocol_request():
            return oauth_error(500, "server_error", "The server could not handle the request.")
        return _page(500, "Something went wrong")


def _unavailable() -> Response:
    """503 in the asked surface's format: problem+json on the API, RFC 6749 JSON on protocol
    endpoints (and on any tenant path asked for JSON), a page for people, JSON for operations."""
    if request.path.startswith(API_PREFIX):
        title, detail = unavailable.TITLE, unavailable.DESCRIPTION
        return problem_response(ApiProblem(503, title, detail, headers=unavailable.RETRY_AFTER))
    wants_json = request.accept_mimetypes.best == "application/json"
    if is_protocol_request() or (request.path.startswith("/t/") and wants_json):
        # RFC 6749 §4.1.2.1 names this code for a server that cannot handle the request now.
        response = oauth_error(503, "temporarily_unavailable", unavailable.DESCRIPTION)
    elif request.path.startswith(("/healthz", "/readyz")) or wants_json:
        response = _page(503, unavailable.TITLE)
    else:
        return unavailable.page()
    response.headers.update(unavailable.RETRY_AFTER)
    return response


def _page(status: int, title: str, headers: object = None) -> Response:
    if (
        request.path.startswith(("/healthz", "/readyz"))
        or request.accept_mimetypes.best == "application/json"
    ):
        body = json.dumps({"status": status, "title": title, "request_id": g.get("request_id")})
        return Response(body, status=status, mimetype="application/json")
    html = render_template(
        "pages/error.html", status=status, title=title, request_id=g.get("request_id")
    )
    response = Response(html, status=status, mimetype="text/html")
    for name, value in headers or []:  # type: ignore[attr-defined]
        if name.lower() == "allow":
            response.headers[name] = value
    return response
