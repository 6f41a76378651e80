"""`postdesk blobs rotate` run as a process on a real blob directory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from postdesk_runtime import EncryptedBlobStore, LocalBlobStore
from postdesk_runtime.keyring import Keyring


def rotate(blob_dir: Path, keys: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"BLOB_DIR": str(blob_dir), "ENCRYPTION_KEYS": keys}
    return subprocess.run(
        [sys.executable, "-m", "postdesk_cli.main", "blobs", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rotate_reencrypts_old_and_plaintext_blobs_and_prints_counts(tmp_path: Path) -> None:
    """Blobs under the old key and plaintext blobs end up under the new key; the counts are printed."""
    old_setting, new_setting = Keyring.generate_setting("old"), Keyring.generate_setting("new")
    old, new = Keyring.from_setting(old_setting), Keyring.from_setting(new_setting)
    local = LocalBlobStore(tmp_path)

    async def fill() -> list[str]:
        sealed = EncryptedBlobStore(local, old)
        return [
            await sealed.put(b"first"),
            await sealed.put(b"second"),
            await local.put(b"legacy plaintext"),
        ]

    refs = asyncio.run(fill())

    done = rotate(tmp_path, f"{new_setting},{old_setting}")

    assert done.returncode == 0, done.stderr
    assert (
        "blobs under key 'new': 2 re-encrypted, 1 encrypted from plaintext, "
        "0 already current (3 in all)"
    ) in done.stdout
    only_new = EncryptedBlobStore(local, new)

    async def read_all() -> list[bytes]:
        return [await only_new.get(ref) for ref in refs]

    assert asyncio.run(read_all()) == [b"first", b"second", b"legacy plaintext"]
    for ref in refs:
        assert new.key_id_of(local.path_of(ref).read_bytes()) == "new"
    again = rotate(tmp_path, f"{new_setting},{old_setting}")
    assert "0 re-encrypted, 0 encrypted from plaintext, 3 already current" in again.stdout


def test_rotate_without_the_old_key_fails_and_changes_nothing(tmp_path: Path) -> None:
    """A ring missing the key that sealed a blob makes rotate exit non-zero, the blob untouched."""
    old_setting = Keyring.generate_setting("old")
    local = LocalBlobStore(tmp_path)
    ref = asyncio.run(EncryptedBlobStore(local, Keyring.from_setting(old_setting)).put(b"x"))
    before = local.path_of(ref).read_bytes()
    done = rotate(tmp_path, Keyring.generate_setting("new"))
    assert done.returncode != 0
    assert "not in the keyring" in done.stderr
    assert local.path_of(ref).read_bytes() == before
