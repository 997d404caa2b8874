"""argon2id verification with its memory block in transparent huge pages, returned after use.

A verification at the shipped cost fills a 19 MiB block. Through malloc the block is a fresh
mapping each time (`serving.tune_malloc` keeps it from staying in the worker), and the kernel
faults it in 4 KiB at a time: ~4,900 page faults, ~10 ms of system time on top of ~20 ms of
hashing. Here libargon2 gets the block through its allocation callbacks as a private anonymous
mapping advised MADV_HUGEPAGE: the same block in ~10 faults of 2 MiB, ~3 ms, and still unmapped
when the verification ends, so a worker's memory after a sign-in is what it was before.
Measured on the bench machine: 32 -> 21 ms of CPU a verification (bench/RESULTS.md).

Only verification comes here: every sign-in and every decoy check makes one. Hashing a new
password (sign-up, reset, rehash) is rare and stays with argon2-cffi's PasswordHasher. The
comparison is libargon2's own computation of the raw hash with the stored hash's parameters and
salt, compared in constant time, as `argon2_verify` does.
"""

from __future__ import annotations

import base64
import hmac
import mmap
import threading
from typing import Any

from argon2.low_level import ARGON2_VERSION, Type, core, error_to_str, ffi, lib

_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
# Bounds what a stored hash may ask of us: far above any cost we ship or accept.
MAX_MEMORY_KIB = 4 * 1024 * 1024
MAX_TIME_COST = 64
MAX_PARALLELISM = 64
MAX_BYTES = 1024

_blocks = threading.local()


class MalformedHash(ValueError):
    """The stored value is not an argon2 hash this module can check."""


def verify(stored_hash: str, password: bytes) -> bool:
    """Whether `password` matches `stored_hash` (PHC string format, as argon2-cffi writes it).

    Raises MalformedHash when the stored value cannot be read.
    """
    kind, version, memory_kib, time_cost, parallelism, salt, expected = _parse(stored_hash)
    out = ffi.new("uint8_t[]", len(expected))
    context = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": len(expected),
            "pwd": ffi.from_buffer(password),
            "pwdlen": len(password),
            "salt": ffi.from_buffer(salt),
            "saltlen": len(salt),
            "secret": ffi.NULL,
            "secretlen": 0,
            "ad": ffi.NULL,
            "adlen": 0,
            "t_cost": time_cost,
            "m_cost": memory_kib,
            "lanes": parallelism,
            "threads": parallelism,
            "version": version,
            "allocate_cbk": _allocate,
            "free_cbk": _free,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    result = core(context, kind.value)
    if result != lib.ARGON2_OK:
        raise RuntimeError(f"argon2 verification failed: {error_to_str(result)}")
    return hmac.compare_digest(bytes(ffi.buffer(out)), expected)


@ffi.callback("int(uint8_t **, size_t)", error=-1)
def _allocate(memory: Any, size: int) -> int:
    """libargon2's allocation: a private mapping of its own, in huge pages where the kernel
    allows (THP "always" or "madvise"; elsewhere the advice is ignored). One per thread at a
    time: libargon2 frees a block before the thread can ask for the next. A failure leaves the
    pointer NULL, which libargon2 reports as an allocation error."""
    memory[0] = ffi.NULL
    block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        block.madvise(mmap.MADV_HUGEPAGE)
    pointer = ffi.from_buffer(block)
    _blocks.current = (block, pointer)
    memory[0] = pointer
    return 0


@ffi.callback("void(uint8_t *, size_t)")
def _free(memory: Any, size: int) -> None:
    """Unmaps the block: nothing of it stays in the worker."""
    block, pointer = _blocks.current
    del _blocks.current
    ffi.release(pointer)
    block.close()


def _parse(stored_hash: str) -> tuple[Type, int, int, int, int, bytes, bytes]:
    """`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (unpadded base64), within bounds."""
    parts = stored_hash.split("$")
    if len(parts) != 6 or parts[0] or parts[1] not in _TYPES:
        raise MalformedHash("not an argon2 hash")
    try:
        version = int(parts[2].removeprefix("v="))
        costs = dict(item.split("=", 1) for item in parts[3].split(","))
        memory_kib, time_cost, parallelism = int(costs["m"]), int(costs["t"]), int(costs["p"])
        salt, expected = _unpadded_b64(parts[4]), _unpadded_b64(parts[5])
    except (ValueError, KeyError) as error:
        raise MalformedHash("unreadable argon2 parameters") from error
    if (
        not parts[2].startswith("v=")
        or version != ARGON2_VERSION
        or not 0 < memory_kib <= MAX_MEMORY_KIB
        or not 0 < time_cost <= MAX_TIME_COST
        or not 0 < parallelism <= MAX_PARALLELISM
        or not 0 < len(salt) <= MAX_BYTES
        or not 0 < len(expected) <= MAX_BYTES
    ):
        raise MalformedHash("argon2 parameters out of bounds")
    return _TYPES[parts[1]], version, memory_kib, time_cost, parallelism, salt, expected


def _unpadded_b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
