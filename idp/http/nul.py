"""No NUL character reaches a handler through the URL.

PostgreSQL refuses U+0000 in text, so a NUL that reached a query answered 500 on the production
set-up (and a clean miss on SQLite): a user id, client id, role, provider, key id or tenant slug
in a management API path, a picture or provider in a page's path, a `q` filter or a logout's
`client_id`. No identifier, slug or parameter of ours can hold one, so the URL is refused before
any handler: a path segment with a NUL matches no route (404), a query string with one is a 400,
each in the format of the surface asked (idp/http/errors.py).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import Map
from werkzeug.routing.converters import UnicodeConverter


class SegmentWithoutNul(UnicodeConverter):
    """The default path converter (one segment, no slash), refusing a NUL as well."""

    def __init__(
        self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None
    ) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", r"[^/\x00]", 1)


def install(app: Flask) -> None:
    """Before any route is added: rules take their converters when they are added."""
    app.url_map.converters["default"] = SegmentWithoutNul
    app.url_map.converters["string"] = SegmentWithoutNul
    app.before_request(refuse_nul_in_query)


def refuse_nul_in_query() -> None:
    # The raw query: a NUL arrives percent-encoded (a server refuses it bare), and checking
    # the bytes costs no parsing on requests that carry none.
    query = request.query_string
    if b"%00" in query or b"\x00" in query:
        raise BadRequest("The query string holds a NUL character, which no parameter may contain.")
