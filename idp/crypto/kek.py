"""The key-encryption key (DESIGN §4, §6): seals private keys and secrets we must read back."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEK_BYTES = 32
NONCE_BYTES = 12


class KekError(RuntimeError):
    """The KEK is missing, malformed, or does not open what it is asked to open."""


class Kek:
    """AES-256-GCM with a random nonce per message; `context` binds a ciphertext to its owner."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEK_BYTES:
            raise KekError(f"the KEK must be {KEK_BYTES} bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())
        except InvalidTag as error:
            raise KekError(f"cannot decrypt {context}: wrong KEK or tampered data") from error


def load_kek(path: Path, env_value: str | None, create: bool) -> Kek:
    """The KEK from `IDP_KEK`, else from `path`, creating it (mode 0600) when `create` is set."""
    if env_value:
        return Kek(_decode(env_value, "IDP_KEK"))
    if not path.exists():
        if not create:
            raise KekError(f"no KEK at {path}: run `idp migrate` to create one, or set IDP_KEK")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(KEK_BYTES)).decode() + "\n")
    return Kek(_decode(path.read_text().strip(), str(path)))


def _decode(text: str, source: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as error:
        raise KekError(f"{source} is not base64url") from error
