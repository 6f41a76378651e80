"""Encryption at rest: AES-256-GCM under named keys, with rotation.

The first key of the ring encrypts; every key decrypts, so rotating means
putting a new key first and re-encrypting at leisure. Each ciphertext names
its key and binds a purpose (associated data), so a blob cannot be passed
off as a password or the reverse.

Token layout: b"PD1" | key-id length (1 byte) | key id | 12-byte nonce | ciphertext+tag.
Setting: `ENCRYPTION_KEYS="k2026:<base64 of 32 bytes>,k2025:<...>"`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"PD1"
NONCE_BYTES = 12
KEY_BYTES = 32


class KeyringError(ValueError):
    """A key setting or a ciphertext that cannot be used; the message says which."""


class Keyring:
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyringError("the keyring needs at least one key")
        for key_id, key in keys:
            if not key_id or len(key_id.encode()) > 255 or ":" in key_id or "," in key_id:
                raise KeyringError(f"bad key id {key_id!r}")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {key_id!r} must be {KEY_BYTES} bytes")
        self._active_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}
        self._keys = list(keys)

    @classmethod
    def from_setting(cls, value: str) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            key_id, _, encoded = item.partition(":")
            try:
                keys.append((key_id, base64.b64decode(encoded, validate=True)))
            except binascii.Error as error:
                raise KeyringError(f"key {key_id!r} is not base64") from error
        return cls(keys)

    @staticmethod
    def generate_setting(key_id: str) -> str:
        return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"

    @property
    def active_key_id(self) -> str:
        return self._active_id

    def derived_keys(self, purpose: bytes) -> list[bytes]:
        """One 32-byte key per ring key for `purpose` (HKDF-SHA256), the active one first:
        MAC keys that rotate with the ring and never equal an encryption key."""
        return [
            HKDF(
                algorithm=SHA256(), length=KEY_BYTES, salt=None, info=b"postdesk:" + purpose
            ).derive(key)
            for _, key in self._keys
        ]

    def encrypt(self, plaintext: bytes, *, purpose: bytes) -> bytes:
        key_id = self._active_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active_id].encrypt(nonce, plaintext, purpose)
        return MAGIC + bytes([len(key_id)]) + key_id + nonce + sealed

    def key_id_of(self, token: bytes) -> str:
        if not token.startswith(MAGIC) or len(token) < len(MAGIC) + 1:
            raise KeyringError("not a postdesk ciphertext")
        length = token[len(MAGIC)]
        return token[len(MAGIC) + 1 : len(MAGIC) + 1 + length].decode()

    def decrypt(self, token: bytes, *, purpose: bytes) -> bytes:
        key_id = self.key_id_of(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyringError(f"key {key_id!r} is not in the keyring")
        start = len(MAGIC) + 1 + len(key_id.encode())
        nonce, sealed = token[start : start + NONCE_BYTES], token[start + NONCE_BYTES :]
        try:
            return cipher.decrypt(nonce, sealed, purpose)
        except InvalidTag as error:
            raise KeyringError("ciphertext is damaged or not for this purpose") from error

    def encrypt_text(self, text: str, *, purpose: bytes) -> str:
        """For a database column: base64 of the token."""
        return base64.b64encode(self.encrypt(text.encode(), purpose=purpose)).decode()

    def decrypt_text(self, token: str, *, purpose: bytes) -> str:
        return self.decrypt(base64.b64decode(token), purpose=purpose).decode()
