"""Verification in huge-page blocks (crypto/argon2_blocks.py) answers exactly as argon2-cffi's
own verify, refuses what is not a readable argon2 hash, and keeps no block afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from argon2.low_level import Type

from idp.crypto import argon2_blocks
from idp.crypto.argon2_blocks import MalformedHash
from idp.crypto.passwords import Passwords

PASSWORD = "correct horse battery staple"


def reference_verify(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except VerificationError:
        return False


@pytest.mark.parametrize(
    ("kind", "memory_kib", "time_cost", "parallelism", "hash_len", "salt_len"),
    [
        (Type.ID, 19456, 2, 1, 32, 16),  # the shipped cost
        (Type.ID, 8192, 3, 2, 16, 8),
        (Type.I, 4096, 1, 1, 64, 32),
        (Type.D, 1024, 2, 4, 24, 12),
    ],
)
def test_agrees_with_argon2_cffi(kind, memory_kib, time_cost, parallelism, hash_len, salt_len):
    hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
        hash_len=hash_len, salt_len=salt_len, type=kind,
    )  # fmt: skip
    stored = hasher.hash(PASSWORD)
    for attempt in (PASSWORD, PASSWORD + " ", "", "Correct horse battery staple"):
        assert argon2_blocks.verify(stored, attempt.encode()) == reference_verify(
            hasher, stored, attempt
        )


def test_a_changed_hash_or_salt_does_not_verify():
    stored = PasswordHasher(memory_cost=1024).hash(PASSWORD)
    head, salt, digest = stored.rsplit("$", 2)
    other_digest = ("A" if digest[0] != "A" else "B") + digest[1:]
    other_salt = ("A" if salt[0] != "A" else "B") + salt[1:]
    assert not argon2_blocks.verify(f"{head}${salt}${other_digest}", PASSWORD.encode())
    assert not argon2_blocks.verify(f"{head}${other_salt}${digest}", PASSWORD.encode())


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$2b$12$abcdefghijklmnopqrstuu4Zq6Ry1G4fqzQW4jQ0Zyq4yJ8e2aKq",  # bcrypt
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",  # no hash
        "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",  # old version
        "$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",  # 93 TiB asked
        "$argon2id$v=19$m=19456,t=100000,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$argon2id$v=19$m=19456,t=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$argon2id$v=19$m=19456,t=2,p=1$not*base64$aGFzaGhhc2hoYXNo",
        "$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    ],
)
def test_what_is_not_a_readable_argon2_hash_is_refused(stored):
    with pytest.raises(MalformedHash):
        argon2_blocks.verify(stored, PASSWORD.encode())
    assert Passwords(2, 1024, 1).verify(stored, PASSWORD) is False


def private_memory_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    pytest.skip("no /proc/self/status RssAnon here")


def test_no_block_stays_in_the_process():
    passwords = Passwords(2, 19456, 1)
    stored = passwords.hash(PASSWORD)
    assert passwords.verify(stored, PASSWORD)
    before = private_memory_kib()
    for _ in range(3):
        assert passwords.verify(stored, PASSWORD)
    assert private_memory_kib() - before < 19456 // 4
