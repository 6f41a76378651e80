"""Blob store behind one small interface; content-addressed and durable before `put` returns.

References look like `sha256:<hex>`. The local backend writes to a temporary
file, fsyncs it, renames it into place and fsyncs the directory, so a blob
that `put` returned survives a crash and a half-written one is never seen.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

REF_PREFIX = "sha256:"


class BlobNotFoundError(LookupError):
    """No blob is stored under the reference."""


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str: ...

    async def get(self, ref: str) -> bytes: ...

    async def exists(self, ref: str) -> bool: ...


def blob_ref(data: bytes) -> str:
    return REF_PREFIX + hashlib.sha256(data).hexdigest()


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
    """Blobs as files under `root/ab/cd/<sha256>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, ref: str) -> Path:
        digest = _digest_of(ref)
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        await asyncio.to_thread(self._write, self.path_of(ref), data)
        return ref

    async def get(self, ref: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path_of(ref).read_bytes)
        except FileNotFoundError as missing:
            raise BlobNotFoundError(ref) from missing

    async def exists(self, ref: str) -> bool:
        return await asyncio.to_thread(self.path_of(ref).is_file)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.is_file():
            return
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
