"""Idempotent creates (draft-ietf-httpapi-idempotency-key-header): a retried POST that carries
the same `Idempotency-Key` gets the first answer again instead of creating a second object.

Records live in the short-lived store, so a retry that lands on another worker or instance is
recognised. A key belongs to one caller: two callers using the same key never meet.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from idp.crypto.kek import Kek
from idp.services.errors import Conflict, DomainError
from idp.stores import ShortLivedStore

# How long a finished response is replayed (the draft's example; long enough for any retry).
REPLAY_SECONDS = 24 * 3600
# How long a request may be in flight before its key may be used again (a crashed worker).
IN_FLIGHT_SECONDS = 60
PENDING = "pending"


class KeyReused(DomainError):
    """The key was first used for a different request (the draft answers 422)."""


class StillInFlight(Conflict):
    """The first request with this key has not finished yet (the draft answers 409)."""


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """The right to run the request for one key; finish with `remember` or `release`."""

    store_key: str
    fingerprint: str


class IdempotencyRecords:
    def __init__(self, store: ShortLivedStore, kek: Kek) -> None:
        self._store = store
        self._kek = kek

    def claim(self, owner: str, key: str, fingerprint: str) -> Claim | StoredResponse:
        """A claim to run the request, or the stored answer of the request already run."""
        store_key = "idempotency:" + hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()
        pending = json.dumps({"state": PENDING, "fingerprint": fingerprint})
        if self._store.add(store_key, pending, IN_FLIGHT_SECONDS):
            return Claim(store_key, fingerprint)
        raw = self._store.get(store_key)
        if raw is None:  # expired between the two calls: the key is free again
            if self._store.add(store_key, pending, IN_FLIGHT_SECONDS):
                return Claim(store_key, fingerprint)
            raise StillInFlight("a request with this Idempotency-Key is still being processed")
        record = json.loads(raw)
        if record["fingerprint"] != fingerprint:
            raise KeyReused("this Idempotency-Key was used for a different request")
        if record["state"] == PENDING:
            raise StillInFlight("a request with this Idempotency-Key is still being processed")
        body = self._kek.open(base64.b64decode(record["body"]), store_key)
        return StoredResponse(record["status"], body, record["headers"])

    def remember(self, claim: Claim, response: StoredResponse) -> None:
        """Keep a successful answer for replay.

        The body of a created client or API key contains its secret: replaying it to the same
        caller is the point (a retry must not lose the only copy). So it is sealed with the KEK
        (DESIGN §6, bound to this record) and expires with the key after REPLAY_SECONDS.
        """
        sealed = self._kek.seal(response.body, claim.store_key)
        record = {
            "state": "done",
            "fingerprint": claim.fingerprint,
            "status": response.status,
            "headers": response.headers,
            "body": base64.b64encode(sealed).decode(),
        }
        self._store.put(claim.store_key, json.dumps(record), REPLAY_SECONDS)

    def release(self, claim: Claim) -> None:
        """Forget a failed attempt: nothing was created, so a retry with the key runs afresh."""
        self._store.delete(claim.store_key)
