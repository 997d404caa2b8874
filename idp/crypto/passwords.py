"""Password hashing with argon2id (DESIGN §6).

Each hash or verification fills a block of `memory_kib` (19 MiB at the shipped cost), so a
process computes at most `concurrent` of them at a time, by default as many as it has cores
(`cores_of_this_process`); the others wait their turn. On one core, where concurrent hashes
add no throughput, a worker's request threads then add one block at most to its memory, not
one per thread, and hashing one at a time also costs less CPU per hash (~10% less measured
with four threads on one core: the blocks no longer evict each other from the CPU caches).
argon2 holds no GIL, so the request's other work runs meanwhile, and a worker given several
cores still hashes on all of them. Every verification, of a real hash or the decoy, waits in
the same queue, so the wait reveals nothing about the account.
"""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher

from idp.crypto import argon2_blocks
from idp.crypto.argon2_blocks import MalformedHash


class Passwords:
    def __init__(
        self, time_cost: int, memory_kib: int, parallelism: int, concurrent: int | None = None
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._turns = threading.BoundedSemaphore(concurrent or cores_of_this_process())

    def hash(self, password: str) -> str:
        with self._turns:
            return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """Through `argon2_blocks`, whose block costs the kernel a third of malloc's."""
        try:
            with self._turns:
                return argon2_blocks.verify(stored_hash, password.encode())
        except MalformedHash:
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters: rehash at the next sign-in."""
        return self._hasher.check_needs_rehash(stored_hash)


def cores_of_this_process() -> int:
    """The CPUs this process may run on (taskset and a container's cpuset included)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
