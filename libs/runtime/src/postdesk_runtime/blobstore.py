"""Blob store behind one small interface; content-addressed and durable before `put` returns.

References look like `sha256:<hex>`. The local backend writes to a temporary
file, fsyncs it, renames it into place and fsyncs the directory, so a blob
that `put` returned survives a crash and a half-written one is never seen.

Two views of a store:
- `BlobStore` (`put`/`get`/`exists`): what services use; `put` returns the
  reference of the bytes given.
- `BlobBackend` (`write`/`read`/`replace`/`refs`): bytes kept under a
  reference the caller chooses, so a wrapper can store something other than
  the bytes the reference hashes (ciphertext, see `blobcrypto`).

Errors: `BlobNotFoundError` (no such blob), `BlobIntegrityError` (the stored
bytes are not the blob the reference names: damaged, sealed by an unknown
key, or plaintext where only ciphertext is accepted), `OSError` (the store
cannot be reached or written; callers treat it as "retry later").
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

REF_PREFIX = "sha256:"


class BlobNotFoundError(LookupError):
    """No blob is stored under the reference."""


class BlobIntegrityError(Exception):
    """The stored bytes cannot be read as the blob the reference names."""


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str: ...

    async def get(self, ref: str) -> bytes: ...

    async def exists(self, ref: str) -> bool: ...


class BlobBackend(Protocol):
    async def write(self, ref: str, data: bytes) -> bool:
        """Store `data` under `ref` unless something is there already; True if written."""
        ...

    async def read(self, ref: str) -> bytes: ...

    async def exists(self, ref: str) -> bool: ...

    async def replace(self, ref: str, data: bytes) -> None:
        """Atomically swap what is stored under an existing `ref` for `data`."""
        ...

    def refs(self) -> AsyncIterator[str]:
        """Every reference stored (in no particular order)."""
        ...


def blob_ref(data: bytes) -> str:
    return REF_PREFIX + hashlib.sha256(data).hexdigest()


def digest_of(ref: str) -> str:
    """The hex digest a reference names; `ValueError` if `ref` is not a blob reference."""
    return _digest_of(ref)


def _digest_of(ref: str) -> str:
    digest = ref.removeprefix(REF_PREFIX)
    if (
        not ref.startswith(REF_PREFIX)
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise ValueError(f"not a blob reference: {ref[:80]!r}")
    return digest


class LocalBlobStore:
    """Blobs as files under `root/ab/cd/<sha256>`; both a `BlobStore` and a `BlobBackend`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, ref: str) -> Path:
        digest = _digest_of(ref)
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        await self.write(ref, data)
        return ref

    async def get(self, ref: str) -> bytes:
        return await self.read(ref)

    async def exists(self, ref: str) -> bool:
        return await asyncio.to_thread(self.path_of(ref).is_file)

    async def write(self, ref: str, data: bytes) -> bool:
        return await asyncio.to_thread(self._write, self.path_of(ref), data)

    async def read(self, ref: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path_of(ref).read_bytes)
        except FileNotFoundError as missing:
            raise BlobNotFoundError(ref) from missing

    async def replace(self, ref: str, data: bytes) -> None:
        path = self.path_of(ref)
        if not await asyncio.to_thread(path.is_file):
            raise BlobNotFoundError(ref)
        await asyncio.to_thread(self._write, path, data, True)

    async def refs(self) -> AsyncIterator[str]:
        for path in await asyncio.to_thread(self._listing):
            yield REF_PREFIX + path.name

    def _listing(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [
            path
            for path in self.root.glob("??/??/*")
            if len(path.name) == 64 and not path.name.startswith(".") and path.is_file()
        ]

    @staticmethod
    def _write(path: Path, data: bytes, overwrite: bool = False) -> bool:
        if not overwrite and path.is_file():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True
