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

from argon2 import Parameters, extract_parameters
from argon2.low_level import ARGON2_VERSION, core, error_to_str, ffi, lib

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
    parameters, salt, expected = _parse(stored_hash)
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
            "t_cost": parameters.time_cost,
            "m_cost": parameters.memory_cost,
            "lanes": parameters.parallelism,
            "threads": parameters.parallelism,
            "version": parameters.version,
            "allocate_cbk": _allocate,
            "free_cbk": _free,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    result = core(context, parameters.type.value)
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


def _parse(stored_hash: str) -> tuple[Parameters, bytes, bytes]:
    """The parameters (argon2-cffi reads them), salt and hash of a stored hash, within bounds."""
    try:
        parameters = extract_parameters(stored_hash)
        salt_text, hash_text = stored_hash.rsplit("$", 2)[1:]
        salt, expected = _unpadded_b64(salt_text), _unpadded_b64(hash_text)
    except ValueError as error:  # InvalidHashError is one, as is a base64 error
        raise MalformedHash("not a readable argon2 hash") from error
    if (
        parameters.version != ARGON2_VERSION
        or not 0 < parameters.memory_cost <= MAX_MEMORY_KIB
        or not 0 < parameters.time_cost <= MAX_TIME_COST
        or not 0 < parameters.parallelism <= MAX_PARALLELISM
        or not 0 < len(salt) <= MAX_BYTES
        or not 0 < len(expected) <= MAX_BYTES
    ):
        raise MalformedHash("argon2 parameters out of bounds")
    return parameters, salt, expected


def _unpadded_b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
