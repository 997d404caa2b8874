"""A process computes at most `concurrent` argon2id hashes at a time (crypto/passwords.py)."""

from __future__ import annotations

import threading

from idp.crypto.passwords import Passwords


class HeldHasher:
    """Stands in for argon2's PasswordHasher: each verification waits until released."""

    def __init__(self) -> None:
        self.inside = threading.Semaphore(0)
        self.release = threading.Event()

    def verify(self, stored_hash: str, password: str) -> bool:
        self.inside.release()
        self.release.wait()
        return True


def test_no_more_than_concurrent_verifications_at_once() -> None:
    passwords = Passwords(time_cost=1, memory_kib=8, parallelism=1, concurrent=2)
    hasher = HeldHasher()
    passwords._hasher = hasher  # type: ignore[assignment]
    threads = [threading.Thread(target=passwords.verify, args=("h", "p")) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert hasher.inside.acquire(timeout=10)
    assert not passwords._turns.acquire(blocking=False)  # both turns taken: a third waits
    hasher.release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert passwords._turns.acquire(blocking=False)


def test_verifies_and_refuses_with_the_real_hasher() -> None:
    passwords = Passwords(time_cost=1, memory_kib=8, parallelism=1)
    stored = passwords.hash("right")
    assert passwords.verify(stored, "right")
    assert not passwords.verify(stored, "wrong")
    assert not passwords.verify("not a hash", "right")
