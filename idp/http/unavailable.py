"""A dependency that cannot be reached: 503 with `Retry-After`, never 500, never an allow.

DESIGN §3: when the short-lived store or the database does not answer, whatever needed it is
refused for now, in the format of the surface that was asked (DESIGN §7; idp/http/errors.py picks
it), and the client is told when to try again (RFC 9110 §10.2.3). The request id is in every
answer so an operator can find the one log line; the cause never reaches the client.
"""

from __future__ import annotations

from flask import Response, g, render_template

from idp.models.failures import database_unreachable
from idp.stores import StoreUnavailable

# Long enough for a restarted Redis or a failed-over database to be back; short enough that
# clients which honour it do not wait longer than an outage usually lasts.
RETRY_AFTER_SECONDS = 5
RETRY_AFTER = {"Retry-After": str(RETRY_AFTER_SECONDS)}
TITLE = "Temporarily unavailable"
DESCRIPTION = "The service is temporarily unavailable; try again shortly."


def is_unavailable(error: BaseException) -> bool:
    """StoreUnavailable, or a database error meaning "unreachable", also when another error was
    raised *from* one (`raise ... from`). A programming error is not this, and stays a 500."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, StoreUnavailable) or database_unreachable(cause):
            return True
        cause = cause.__cause__
    return False


def cause_of(error: BaseException) -> str:
    """One line for the log: what failed, without the statement or its parameters, which an
    SQLAlchemy error would print and which may hold a digest or an e-mail address."""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first_line}"


def page() -> Response:
    """The hosted pages' answer: a friendly page with the request id, no stack trace."""
    html = render_template(
        "pages/unavailable.html",
        title=TITLE,
        retry_after=RETRY_AFTER_SECONDS,
        request_id=g.get("request_id"),
    )
    response = Response(html, status=503, mimetype="text/html")
    response.headers.update(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response
