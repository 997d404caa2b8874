"""What the hosted pages' forms share: reading a bounded field, and pages that carry a token.

Every field is cut to a bound before anything looks at it, so no form makes us hash, compare
or store more than that; a password gets one character more than the bound so an overlong one
is refused as too long rather than silently shortened.
"""

from __future__ import annotations

from typing import TypeVar

from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response as BaseResponse

from idp.http.oauth.guards import FORM

MAX_FIELD = 1024
PASSWORD_LIMIT = MAX_FIELD + 1

AnyResponse = TypeVar("AnyResponse", bound=BaseResponse)


def form_field(name: str, limit: int = MAX_FIELD) -> str:
    return request.form.get(name, "")[:limit]


def refuse_nul_in_form() -> None:
    """No field of our forms can hold a NUL (a name, a code, an id, a password), and
    PostgreSQL refuses one in text: a session id or client id carrying one answered 500 there.
    Refused with a friendly page before any handler reads the form. Only URL-encoded forms: the
    one multipart form (a picture) sets its own size limit before its body is read."""
    if request.mimetype != FORM or request.method != "POST":
        return
    if any("\x00" in value for _, value in request.form.items(multi=True)):
        raise BadRequest("A form field holds a NUL character.")


def no_referrer(response: AnyResponse) -> AnyResponse:
    """A page whose URL or form holds a one-time token (a mailed link) sends no Referer, so the
    token never reaches another site through a link on the page."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
