"""Encryption at rest for blobs: a `BlobStore` that seals what it stores with the keyring.

Invariants:
- References stay `sha256:<hex of the PLAINTEXT>`, so content addressing and
  dedupe are the same with or without encryption; `put` skips a blob that is
  already stored (under any key, or as legacy plaintext).
- The stored bytes are `Keyring` tokens (purpose b"blob", layout b"PD1" |
  key id | nonce | AES-256-GCM ciphertext and tag). Reads decrypt with
  whichever key of the ring sealed the blob, then check that the plaintext
  hashes to the reference (a valid token moved under another ref is refused).
- Stored bytes that hash to their own reference are a plaintext blob written
  before encryption was on. They are returned only when `accept_plaintext`
  is set; otherwise `BlobIntegrityError`. The hash, not the b"PD1" prefix,
  decides: a plaintext attachment may well begin with b"PD1".
- `rotate_blobs` re-encrypts every blob not sealed by the active key (and
  every plaintext blob) with an atomic replace, so readers see the old token
  or the new one, both readable while the old key stays in the ring.

See docs/adr/0006-blob-encryption-at-rest.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog

from postdesk_runtime.blobstore import BlobBackend, BlobIntegrityError, blob_ref, digest_of
from postdesk_runtime.keyring import MAGIC, Keyring, KeyringError

BLOB_PURPOSE = b"blob"

log = structlog.get_logger(__name__)


def _is_plaintext_of(ref: str, stored: bytes) -> bool:
    return hashlib.sha256(stored).hexdigest() == digest_of(ref)


class EncryptedBlobStore:
    """A `BlobStore` over any `BlobBackend`, sealing each blob under the keyring's active key."""

    def __init__(
        self, backend: BlobBackend, keyring: Keyring, *, accept_plaintext: bool = False
    ) -> None:
        self.backend = backend
        self.keyring = keyring
        self.accept_plaintext = accept_plaintext

    async def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        if await self.backend.exists(ref):
            return ref
        await self.backend.write(ref, self.keyring.encrypt(data, purpose=BLOB_PURPOSE))
        return ref

    async def get(self, ref: str) -> bytes:
        stored = await self.backend.read(ref)
        if _is_plaintext_of(ref, stored):
            if self.accept_plaintext:
                return stored
            raise BlobIntegrityError(
                f"{ref} is stored unencrypted (set BLOB_ACCEPT_PLAINTEXT or run `postdesk blobs rotate`)"
            )
        return self.open(ref, stored)

    async def exists(self, ref: str) -> bool:
        return await self.backend.exists(ref)

    def open(self, ref: str, stored: bytes) -> bytes:
        """The plaintext of the token `stored` under `ref`; `BlobIntegrityError` if it is not one."""
        if not stored.startswith(MAGIC):
            raise BlobIntegrityError(f"{ref} is neither a postdesk ciphertext nor its plaintext")
        try:
            data = self.keyring.decrypt(stored, purpose=BLOB_PURPOSE)
        except KeyringError as error:
            raise BlobIntegrityError(f"{ref}: {error}") from error
        if not _is_plaintext_of(ref, data):
            raise BlobIntegrityError(f"{ref}: the decrypted bytes belong to another blob")
        return data


@dataclass(frozen=True)
class RotationReport:
    """What `rotate_blobs` did: counts of blobs by what was done to them."""

    active_key_id: str
    reencrypted: int = 0
    encrypted_plaintext: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.reencrypted + self.encrypted_plaintext + self.unchanged


async def rotate_blobs(store: EncryptedBlobStore) -> RotationReport:
    """Re-seal every blob of `store.backend` not under the active key (plaintext included).

    Each blob is decrypted (any key of the ring), checked against its reference
    and replaced atomically by a token of the active key. A blob that cannot
    be read raises `BlobIntegrityError` before anything is written for it;
    blobs already done stay done, so running again after fixing resumes.
    """
    active = store.keyring.active_key_id
    reencrypted = encrypted_plaintext = unchanged = 0
    async for ref in store.backend.refs():
        stored = await store.backend.read(ref)
        if _is_plaintext_of(ref, stored):
            data = stored
            encrypted_plaintext += 1
        elif stored.startswith(MAGIC) and store.keyring.key_id_of(stored) == active:
            unchanged += 1
            continue
        else:
            data = store.open(ref, stored)
            reencrypted += 1
        await store.backend.replace(ref, store.keyring.encrypt(data, purpose=BLOB_PURPOSE))
        log.debug("blob re-encrypted", ref=ref, key_id=active)
    return RotationReport(active, reencrypted, encrypted_plaintext, unchanged)
