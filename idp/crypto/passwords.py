"""Password hashing with argon2id (DESIGN §6).

Each hash or verification fills a block of `memory_kib` (19 MiB at the shipped cost), so a
process computes at most `concurrent` of them at a time (one by default); the others wait their
turn. The peak memory a worker's request threads add is then one block, not one per thread,
and on a core shared by several threads hashing one at a time also costs less CPU per hash
(~10% less measured with four threads on one core: the blocks no longer evict each other from
the CPU caches). Throughput is not lost: the request's other work runs meanwhile (argon2 holds
no GIL), and a worker's Python code is bound to one core by the GIL anyway, so more cores are
used through more workers (WEB_CONCURRENCY). Every verification, of a real hash or the decoy,
waits in the same queue, so the wait reveals nothing about the account.
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(
        self, time_cost: int, memory_kib: int, parallelism: int, concurrent: int = 1
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._turns = threading.BoundedSemaphore(concurrent)

    def hash(self, password: str) -> str:
        with self._turns:
            return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            with self._turns:
                return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters: rehash at the next sign-in."""
        return self._hasher.check_needs_rehash(stored_hash)
