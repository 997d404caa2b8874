"""Checks every protocol request passes before Authlib sees it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge

from idp.context import services
from idp.http.errors import OAuthHttpError

FORM = "application/x-www-form-urlencoded"
# RFC 8707 §2: `resource` may be repeated; every other parameter must not (RFC 6749 §3.1/§3.2).
REPEATABLE = frozenset({"resource"})
JSON_ENDPOINTS = frozenset({"oauth.register", "oauth.client_configuration"})
BODY_OPTIONAL = frozenset({"oauth.userinfo"})
# A '%' that does not start a complete escape (%XX).
BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def resolve_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
    slug = (values or {}).pop("tenant", "")
    tenant = services().tenant_cache.get(slug)
    if tenant is None:
        raise OAuthHttpError(404, "invalid_request", "Unknown issuer.")
    g.tenant = tenant


def check_form_post() -> None:
    """POSTs carry exactly one form body: no query parameters, no repeated parameters.

    Registration (RFC 7591 §3.1) is the exception: its body is JSON, read by its endpoint.
    """
    if request.endpoint in JSON_ENDPOINTS:
        check_body_complete(request.get_data(cache=True))
        return
    if request.method != "POST":
        return
    if request.endpoint in BODY_OPTIONAL and not request.content_length:
        return  # RFC 6750 §2.1: a bearer token in the header, nothing in the body
    if request.mimetype != FORM:
        raise OAuthHttpError(400, "invalid_request", f"The body must be {FORM}.")
    if request.args:
        raise OAuthHttpError(400, "invalid_request", "Parameters belong in the request body.")
    # Read (and cache) the raw body first: werkzeug's form parser silently repairs bad encoding.
    body = request.get_data(cache=True)
    check_body_complete(body)
    check_form_encoding(body)
    form = request.form
    for name in form:
        if name not in REPEATABLE and len(form.getlist(name)) > 1:
            raise OAuthHttpError(400, "invalid_request", f"Parameter '{name}' is repeated.")


def check_body_complete(body: bytes) -> None:
    """A chunked body (no Content-Length) that reaches the size limit is refused with 413.

    Werkzeug stops reading such a stream at `max_content_length` and returns what it has, so
    without this check an oversized request would be answered from a silently truncated body.
    A chunked body of exactly the limit is refused too: it cannot be told apart from a longer one.
    """
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(body) >= limit:
        raise RequestEntityTooLarge()


def check_form_encoding(body: bytes) -> None:
    problem = form_encoding_problem(body)
    if problem:
        raise OAuthHttpError(400, "invalid_request", problem)


def form_encoding_problem(body: bytes) -> str | None:
    """RFC 6749 Appendix B: UTF-8, then percent-encoded, so the body itself is ASCII.

    Werkzeug would keep a broken escape as literal text and replace invalid UTF-8 with U+FFFD;
    either way the client would get an answer to a question it did not ask.
    """
    if not body.isascii() or BROKEN_ESCAPE.search(body):
        return "The body is not valid form encoding."
    try:
        unquote_to_bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return "The body's percent-encoded bytes are not UTF-8."
    return None
