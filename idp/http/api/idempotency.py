"""`Idempotency-Key` on every POST of the management API, applied around every view at once.

A retry of a create (a timeout, a dropped connection) with the same key and body gets the first
response again, status, body and Location, and creates nothing; the same key with another body
is a 422 problem; a retry while the first request is still running is a 409 problem. Only
successful responses are kept: after a failure nothing was created, and the key may be reused.
"""

from __future__ import annotations

import hashlib
import json
import re

from flask import Response, g, request

from idp.context import services
from idp.http.api.auth import principal
from idp.http.api.problems import ApiProblem
from idp.services.management.idempotency import (
    Claim,
    IdempotencyRecords,
    KeyReused,
    StillInFlight,
    StoredResponse,
)

HEADER = "Idempotency-Key"
# The draft's key is a Structured Field string ("..."); a bare token is accepted too, as most
# clients send one. Printable ASCII, bounded so a key cannot bloat the store.
KEY = re.compile(r'^"?([\x20-\x21\x23-\x7e]{1,255})"?$')
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag")


def claim_or_replay() -> Response | None:
    """Before a POST view: replay the stored answer, or claim the key for this request."""
    if request.method != "POST" or HEADER not in request.headers:
        return None
    match = KEY.match(request.headers[HEADER])
    if match is None:
        raise ApiProblem(400, "Bad request", f"{HEADER} must be 1-255 printable ASCII characters.")
    caller = principal()
    records = IdempotencyRecords(services().store, services().kek)
    try:
        outcome = records.claim(
            f"{caller.label}|{caller.tenant_id}", match.group(1), _fingerprint()
        )
    except KeyReused as error:
        raise ApiProblem(422, "Idempotency key reused", f"{error}; use a new key.") from error
    except StillInFlight as error:
        raise ApiProblem(409, "Request in progress", f"{error}; retry later.") from error
    if isinstance(outcome, StoredResponse):
        g.idempotent_replay = True
        return Response(outcome.body, status=outcome.status, headers=outcome.headers)
    g.idempotency_claim = outcome
    return None


def remember(response: Response) -> Response:
    """After the view: keep a successful answer for replays, or free the key after a failure."""
    claim: Claim | None = g.pop("idempotency_claim", None)
    if claim is None:
        return response
    records = IdempotencyRecords(services().store, services().kek)
    if 200 <= response.status_code < 300:
        headers = {
            name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
        }
        records.remember(claim, StoredResponse(response.status_code, response.get_data(), headers))
    else:
        records.release(claim)
    return response


def _fingerprint() -> str:
    """The request a key stands for: where it went and what it said (JSON compared by value)."""
    body = request.get_json(silent=True)
    payload = (
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        if body is not None
        else request.get_data()
    )
    target = f"{request.method} {request.path}?{request.query_string.decode('latin-1')}\n"
    return hashlib.sha256(target.encode() + payload).hexdigest()
