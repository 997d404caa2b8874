"""The server's floor: a WSGI callable that returns a fixed JSON body and does nothing else.

Served by the same server, with the same settings and pinning as ours, in the same run: the
rate it reaches is the most any WSGI app could serve there, the physical limit of the rows that
do no cryptography (the JWKS, discovery).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"keys":[]}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]


def factory() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """For granian, which is given factories (idp/serving.py)."""
    return app
