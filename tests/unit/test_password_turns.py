"""A process computes at most `concurrent` argon2id hashes at a time (crypto/passwords.py)."""

from __future__ import annotations

import threading

from idp.crypto.passwords import Passwords


def test_a_verification_waits_for_a_free_turn() -> None:
    passwords = Passwords(time_cost=1, memory_kib=8, parallelism=1, concurrent=2)
    stored = passwords.hash("right")
    for _ in range(2):  # two verifications under way
        assert passwords._turns.acquire(blocking=False)
    answers: list[bool] = []
    third = threading.Thread(target=lambda: answers.append(passwords.verify(stored, "right")))
    third.start()
    third.join(timeout=0.3)
    assert third.is_alive() and not answers  # waits for a turn
    passwords._turns.release()
    third.join(timeout=10)
    assert answers == [True]


def test_verifies_and_refuses_with_the_real_hasher() -> None:
    passwords = Passwords(time_cost=1, memory_kib=8, parallelism=1)
    stored = passwords.hash("right")
    assert passwords.verify(stored, "right")
    assert not passwords.verify(stored, "wrong")
    assert not passwords.verify("not a hash", "right")
