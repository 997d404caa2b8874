"""The short-lived state contract (DESIGN §3): codes, nonces, counters, cached revocations.

Two backends implement it, Redis and SQL, and one contract test suite runs against both.
Values are strings; callers serialise. Every entry has a time to live. A backend that cannot
be reached raises StoreUnavailable, whatever its driver raised, so that callers above the store
answer 503 instead of failing or, worse, reading "absent" as "allowed".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class StoreUnavailable(Exception):
    """The store did not answer (refused, timed out, or lost the connection mid-command)."""


class ShortLivedStore(Protocol):
    def put(self, key: str, value: str, ttl: float) -> None:
        """Set `key` to `value` for `ttl` seconds, replacing what was there."""

    def put_many(self, entries: Sequence[tuple[str, str, float]]) -> None:
        """`put` each (key, value, ttl): one round trip where the backend has one."""

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` only if absent (or expired); True when this call set it. Atomic."""

    def swap(self, key: str, expected: str, value: str, ttl: float) -> bool:
        """Set `key` to `value` only if it holds `expected` now; True when it did. Atomic."""

    def get(self, key: str) -> str | None:
        """The live value of `key`, or None."""

    def get_many(self, keys: list[str]) -> list[str | None]:
        """The live value of each key, in order: one round trip where the backend has one."""

    def take(self, key: str) -> str | None:
        """Return and delete `key` in one atomic step: of concurrent callers only one gets it."""

    def delete(self, key: str) -> None:
        """Forget `key` (no error when absent)."""

    def incr(self, key: str, ttl: float, by: int = 1) -> int:
        """Add `by` to a counter and return it; a new counter lives `ttl` seconds (fixed window)."""

    def ping(self) -> None:
        """Raise StoreUnavailable if the backend cannot be reached (readiness probe)."""
