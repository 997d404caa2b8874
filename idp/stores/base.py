"""The short-lived state contract (DESIGN §3): codes, nonces, counters, revoked token ids.

Two backends implement it, Redis and SQL, and one contract test suite runs against both.
Values are strings; callers serialise. Every entry has a time to live.
"""

from __future__ import annotations

from typing import Protocol


class ShortLivedStore(Protocol):
    def put(self, key: str, value: str, ttl: float) -> None:
        """Set `key` to `value` for `ttl` seconds, replacing what was there."""

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` only if absent (or expired); True when this call set it. Atomic."""

    def get(self, key: str) -> str | None:
        """The live value of `key`, or None."""

    def get_many(self, keys: list[str]) -> list[str | None]:
        """The live value of each key, in order: one round trip where the backend has one."""

    def take(self, key: str) -> str | None:
        """Return and delete `key` in one atomic step: of concurrent callers only one gets it."""

    def delete(self, key: str) -> None:
        """Forget `key` (no error when absent)."""

    def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter and return it; a new counter lives `ttl` seconds (fixed window)."""

    def ping(self) -> None:
        """Raise if the backend cannot be reached (readiness probe)."""
