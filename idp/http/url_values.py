"""What a URL may carry into a query: no NUL character, no row id beyond the database's range.

PostgreSQL refuses U+0000 in text and an integer beyond 2**31 - 1 in an `integer` column, so a
URL carrying either into a query answered 500 on the production set-up (and a clean miss on
SQLite): a user id, client id, role, provider, key id or tenant slug in a management API path,
a picture or provider in a page's path, a `q` filter, a logout's `client_id`, a passkey's id.
None of our identifiers, slugs or parameters can hold a NUL and no row id exceeds the column's
range, so such URLs are refused before any handler: a path segment matches no route (404), a
query string with a NUL is a 400, each in the format of the surface asked (idp/http/errors.py).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import Map
from werkzeug.routing.converters import IntegerConverter, UnicodeConverter

# Row ids are `integer` columns (idp/models): PostgreSQL's, and SQLite's range includes it.
MAX_ROW_ID = 2**31 - 1


class SegmentWithoutNul(UnicodeConverter):
    """The default path converter (one segment, no slash), refusing a NUL as well."""

    def __init__(
        self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None
    ) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", r"[^/\x00]", 1)


class RowId(IntegerConverter):
    """`<int:...>`: a non-negative integer a row id can be."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, max=MAX_ROW_ID)


def install(app: Flask) -> None:
    """Before any route is added: rules take their converters when they are added."""
    app.url_map.converters["default"] = SegmentWithoutNul
    app.url_map.converters["string"] = SegmentWithoutNul
    app.url_map.converters["int"] = RowId
    app.before_request(refuse_nul_in_query)


def refuse_nul_in_query() -> None:
    # The raw query: a NUL arrives percent-encoded (a server refuses it bare), and checking
    # the bytes costs no parsing on requests that carry none.
    query = request.query_string
    if b"%00" in query or b"\x00" in query:
        raise BadRequest("The query string holds a NUL character, which no parameter may contain.")
