"""Optimistic concurrency for the management API (RFC 9110 §8.8.3, §13.1.1; RFC 6585 §3).

Every response carrying one resource carries a strong `ETag`: a digest of the resource's JSON
representation, so it changes exactly when what a client can see changes (rotating a client
secret, which is never shown again, leaves it unchanged). PATCH and DELETE honour `If-Match`.

PATCH *requires* `If-Match` (428 without it). A PATCH of a list (redirect URIs, roles, sign-in
methods) replaces the whole list, so it is always built from what the caller read earlier; if
If-Match were optional, the promise that two admins never silently overwrite each other would
hold only for callers who remembered to send it. A script that means to overwrite whatever is
there says so with `If-Match: *`, which matches any existing resource. DELETE names what it
removes, so If-Match is honoured there but not required.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, jsonify, request

from idp.context import services
from idp.http.api.problems import ApiProblem
from idp.services.write_locks import exclusive

IF_MATCH_REQUIRED = frozenset({"PATCH"})


def entity_tag(representation: dict[str, Any]) -> str:
    """The opaque tag of a representation (without quotes): equal JSON, equal tag."""
    canonical = json.dumps(representation, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def resource(
    representation: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
    shown_once: dict[str, str] | None = None,
) -> Response:
    """One resource as JSON with its ETag; `shown_once` (a new secret) is sent, not tagged."""
    response = jsonify({**representation, **(shown_once or {})})
    response.status_code = status
    response.set_etag(entity_tag(representation))
    response.headers.update(headers or {})
    return response


@contextmanager
def precondition(current: Callable[[], dict[str, Any]]) -> Iterator[None]:
    """Run a write to the resource at the request's path only if `If-Match` still holds.

    `current` reads the resource's representation now (raising NotFound if it is gone). The
    check and the write inside the block hold the resource's lock, so no other write through
    this API can come between them on any worker.
    """
    if_match = request.headers.get("If-Match")
    if if_match is None and request.method in IF_MATCH_REQUIRED:
        current()  # a resource that is not there (or not visible) is 404, not 428
        raise ApiProblem(
            428,
            "Precondition required",
            "Send the resource's ETag as If-Match (or `If-Match: *` to overwrite whatever is "
            "there), so a change made since you read it is not silently lost.",
        )
    with exclusive(services().store, request.path):
        if if_match is not None:
            representation = current()
            if not request.if_match.contains(entity_tag(representation)):
                raise ApiProblem(
                    412,
                    "Precondition failed",
                    "The resource changed since the ETag you sent; read it again and retry.",
                )
        yield
