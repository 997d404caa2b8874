"""Revoked access tokens and people, durable in the database and cached in the store.

Access tokens are JWTs, valid by themselves until `exp`; what makes one inactive early is a
record: its `jti` revoked (RFC 7009), or its person's "every token issued before this instant is
void" (deactivation, sign out everywhere, password reset). DESIGN §3: the database holds these
records, because the store may lose everything at any moment (Redis restarted without
persistence, flushed, failed over to a replica that lagged) and must never revive a revoked token.

On Redis, checking a token stays one round trip. The store caches every live record, and a
marker, WARM_KEY, says that the cache is complete; the check reads the marker with the token's
entries in one MGET. Without the marker (the store lost its contents, or the marker expired),
the check reads the database instead, and that request refills the cache:

1. `add(WARM_KEY, "warming:<id>")` claims the refill; it succeeds only where the marker is absent;
2. every live record is copied from the database into the store;
3. `swap(WARM_KEY, "warming:<id>", WARM)` declares the cache complete, and fails if the store lost
   its contents after step 1 (the claim is gone with them): the next check starts again.

Every writer records in the database first, then in the store. A record committed before step 2
read the database is copied; one committed after is written to the store by its writer after
step 2, so after any loss that could erase it (a loss erases WARM_KEY too). What is left is a
writer that fails between its commit and its store write: the caller gets a 503 and retries,
and the marker's lifetime, WARM_SECONDS, bounds how long such a gap could last, since every
expiry of the marker refills the cache from the database.

With the embedded SQL store the records are read where they live: one query, no cache.

Either way that is a round trip per check, most of an introspection's CPU on Redis
(bench/RESULTS.md), and resource servers introspect the same token on every call they receive.
So each worker remembers the tokens it found live, under the tenant's revocation generation
(idp/services/generations.py), which every revocation replaces before it returns: a token
revoked by a call that has returned is found revoked by every later check, on every worker and
instance. A remembered answer is used for LIVE_MAX_AGE seconds at most, the bound on the gap
left by a writer that failed after its commit (above).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from idp.crypto.secrets import new_identifier
from idp.models.revocation_records import LiveRevocation, RevocationRecords, RevocationState
from idp.services.generations import TenantGenerations
from idp.stores import ShortLivedStore, StoreUnavailable

GENERATIONS = "revocations"
LIVE_MAX_AGE = 60.0
LIVE_MAX_ENTRIES = 10_000  # bounds memory: tokens are made by us, but there may be many
WARM_KEY = "revocations:warm"
WARM = "warm"
# A complete cache is refilled from the database this often (the module docstring says why).
WARM_SECONDS = 600.0
# A refill that has not finished by then (its worker died) is claimed by another request.
WARMING_SECONDS = 60.0
# Tokens are checked with this leeway on `exp`, so records outlive their token by as much.
CLOCK_SKEW = 30

log = logging.getLogger(__name__)


class Revocations:
    """The revocation records of every tenant; `cache` is the store when it is a separate
    service (Redis), None when the store is the database itself, and `store` the short-lived
    store either way (the tenants' revocation generations)."""

    def __init__(
        self, records: RevocationRecords, cache: ShortLivedStore | None, store: ShortLivedStore
    ) -> None:
        self._records = records
        self._cache = cache
        self._generations = TenantGenerations(store, GENERATIONS)
        # (tenant, jti, subject) -> (generation, when) of a check that found the token live
        self._live: dict[tuple[int, str, str | None], tuple[str | None, float]] = {}

    def revoke_token(self, tenant_id: int, jti: str, expires_at: float) -> None:
        """Void one access token until its `exp`; after that it is dead anyway."""
        self.revoke_tokens(tenant_id, [(jti, expires_at)])

    def revoke_tokens(self, tenant_id: int, tokens: Sequence[tuple[str, float]]) -> None:
        """Void each access token (`jti`, `exp`) until its `exp`, then publish one new
        generation for them all: one wait (generations.py) instead of one per token, which made
        revoking a family rotated n times wait n times 10 ms."""
        for jti, expires_at in tokens:
            until = expires_at + CLOCK_SKEW
            self._records.revoke_token(tenant_id, jti, until)
            if self._cache is not None:
                self._cache.put(_token_key(tenant_id, jti), "1", max(1.0, until - time.time()))
        if tokens:
            self._generations.changed(tenant_id)

    def revoke_before(self, tenant_id: int, subject: str, lifetime: float) -> None:
        """Void every token of `subject` issued until now; `lifetime` is the longest any of
        them can live, after which the record refuses nothing. Tokens issued in the same second
        are voided too (`iat` has whole seconds), erring on the safe side."""
        now = time.time()
        until = now + lifetime + CLOCK_SKEW
        self._records.revoke_before(tenant_id, subject, now, until)
        if self._cache is not None:
            self._cache.put(_subject_key(tenant_id, subject), repr(now), until - now)
        self._generations.changed(tenant_id)

    def is_revoked(self, tenant_id: int, jti: str, subject: str | None, issued_at: int) -> bool:
        """Whether the token `jti`, issued at `issued_at` to `subject` (None for a client's
        own token), has been revoked. Raises StoreUnavailable rather than guess."""
        generation = self._generations.current(tenant_id)
        key = (tenant_id, jti, subject)
        now = time.monotonic()
        live = self._live.get(key)
        if live is not None and live[0] == generation and now - live[1] < LIVE_MAX_AGE:
            return False
        if self._checked(tenant_id, jti, subject, issued_at):
            return True
        if len(self._live) >= LIVE_MAX_ENTRIES:
            self._live.clear()
        self._live[key] = (generation, now)
        return False

    def _checked(self, tenant_id: int, jti: str, subject: str | None, issued_at: int) -> bool:
        """`is_revoked` as the records say, through the store's cache where there is one."""
        if self._cache is None:
            return _revokes(self._records.state(tenant_id, jti, subject, time.time()), issued_at)
        keys = [WARM_KEY, _token_key(tenant_id, jti)]
        if subject is not None:
            keys.append(_subject_key(tenant_id, subject))
        warm, revoked, *cutoff = self._cache.get_many(keys)
        revoked_before = float(cutoff[0]) if cutoff and cutoff[0] is not None else None
        cached = RevocationState(revoked is not None, revoked_before)
        if warm == WARM:
            return _revokes(cached, issued_at)
        # What the store still holds counts too: entries written before the records existed
        # (an upgrade) are in the store alone.
        recorded = self._records.state(tenant_id, jti, subject, time.time())
        self._refill(self._cache)
        return _revokes(recorded, issued_at) or _revokes(cached, issued_at)

    def first_use_of_assertion(
        self, tenant_id: int, client_id: str, jti: str, expires_at: float
    ) -> bool:
        """Record a `private_key_jwt` assertion's `jti` until it expires; False for a replay
        (RFC 7523 §3). In the database alone: it is written once per assertion anyway, and
        a store that forgot it would accept the replay."""
        return self._records.use_assertion(tenant_id, client_id, jti, expires_at + CLOCK_SKEW)

    def _refill(self, cache: ShortLivedStore) -> None:
        """Copy every live record into the store and mark it complete (module docstring)."""
        claim = f"warming:{new_identifier(8)}"
        try:
            if not cache.add(WARM_KEY, claim, WARMING_SECONDS):
                return  # complete already, or another request is refilling it
            now = time.time()
            live = self._records.live(now)
            cache.put_many([_entry(record, now) for record in live])
            if cache.swap(WARM_KEY, claim, WARM, WARM_SECONDS):
                log.info("revocation cache refilled from the database: %d records", len(live))
        except StoreUnavailable:
            # This request's answer came from the database; the next check tries again.
            log.warning("revocation cache not refilled: the store is unavailable")


def _revokes(state: RevocationState, issued_at: int) -> bool:
    if state.jti_revoked:
        return True
    return state.revoked_before is not None and issued_at <= state.revoked_before


def _entry(record: LiveRevocation, now: float) -> tuple[str, str, float]:
    ttl = max(1.0, record.expires_at - now)
    if record.jti is not None:
        return _token_key(record.tenant_id, record.jti), "1", ttl
    assert record.subject is not None and record.revoked_before is not None
    return _subject_key(record.tenant_id, record.subject), repr(record.revoked_before), ttl


def _subject_key(tenant_id: int, subject: str) -> str:
    return f"revoked-before:{tenant_id}:{subject}"


def _token_key(tenant_id: int, jti: str) -> str:
    return f"revoked-jti:{tenant_id}:{jti}"
