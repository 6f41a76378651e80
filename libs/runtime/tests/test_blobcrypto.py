"""EncryptedBlobStore over the local backend: sealing, reading, tampering, plaintext, rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from postdesk_runtime import (
    BlobIntegrityError,
    BlobNotFoundError,
    EncryptedBlobStore,
    LocalBlobStore,
    blob_ref,
    make_blob_store,
)
from postdesk_runtime.blobcrypto import rotate_blobs
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.settings import ServiceSettings

OLD = ("k2025", os.urandom(32))
NEW = ("k2026", os.urandom(32))
SECRET = b"From: a@b.example\r\nSubject: payroll\r\n\r\nThe secret number is 4242-SECRET.\r\n"


def store(
    root: Path, *keys: tuple[str, bytes], accept_plaintext: bool = False
) -> EncryptedBlobStore:
    return EncryptedBlobStore(
        LocalBlobStore(root), Keyring(list(keys) or [OLD]), accept_plaintext=accept_plaintext
    )


async def test_round_trip_keeps_plaintext_ref_and_file_holds_no_plaintext(tmp_path: Path) -> None:
    """The ref is the plaintext's sha256, the file is a PD1 token without the plaintext, get returns it."""
    blobs = store(tmp_path)
    ref = await blobs.put(SECRET)
    assert ref == blob_ref(SECRET)
    on_disk = LocalBlobStore(tmp_path).path_of(ref).read_bytes()
    assert on_disk.startswith(b"PD1")
    assert b"4242-SECRET" not in on_disk
    assert b"payroll" not in on_disk
    assert await blobs.get(ref) == SECRET
    assert await blobs.exists(ref)


async def test_put_twice_keeps_the_first_token(tmp_path: Path) -> None:
    """Dedupe is unchanged: a second put of the same bytes writes nothing."""
    blobs = store(tmp_path)
    ref = await blobs.put(SECRET)
    path = LocalBlobStore(tmp_path).path_of(ref)
    first = path.read_bytes()
    assert await blobs.put(SECRET) == ref
    assert path.read_bytes() == first


async def test_missing_blob_raises_not_found(tmp_path: Path) -> None:
    """Reading a ref that was never stored raises BlobNotFoundError."""
    with pytest.raises(BlobNotFoundError):
        await store(tmp_path).get(blob_ref(b"never stored"))


async def test_tampered_blob_is_refused(tmp_path: Path) -> None:
    """One flipped ciphertext byte makes get raise BlobIntegrityError, never return garbage."""
    blobs = store(tmp_path)
    ref = await blobs.put(SECRET)
    path = LocalBlobStore(tmp_path).path_of(ref)
    token = bytearray(path.read_bytes())
    token[-5] ^= 0x01
    path.write_bytes(bytes(token))
    with pytest.raises(BlobIntegrityError, match="damaged"):
        await blobs.get(ref)


async def test_valid_token_under_another_ref_is_refused(tmp_path: Path) -> None:
    """A genuine token copied under another blob's ref fails the plaintext hash check."""
    blobs = store(tmp_path)
    ref_a = await blobs.put(b"blob a")
    ref_b = await blobs.put(b"blob b")
    local = LocalBlobStore(tmp_path)
    local.path_of(ref_b).write_bytes(local.path_of(ref_a).read_bytes())
    with pytest.raises(BlobIntegrityError, match="another blob"):
        await blobs.get(ref_b)


async def test_unknown_key_is_refused(tmp_path: Path) -> None:
    """A blob sealed by a key the ring no longer holds cannot be read."""
    ref = await store(tmp_path, OLD).put(SECRET)
    with pytest.raises(BlobIntegrityError, match="not in the keyring"):
        await store(tmp_path, NEW).get(ref)


async def test_plaintext_blob_needs_the_setting(tmp_path: Path) -> None:
    """A blob written before encryption is read only with accept_plaintext."""
    ref = await LocalBlobStore(tmp_path).put(SECRET)
    with pytest.raises(BlobIntegrityError, match="unencrypted"):
        await store(tmp_path).get(ref)
    assert await store(tmp_path, accept_plaintext=True).get(ref) == SECRET


async def test_plaintext_starting_with_the_marker_is_still_plaintext(tmp_path: Path) -> None:
    """An attachment that happens to begin with b'PD1' is recognised as plaintext by its hash."""
    data = b"PD1\x05k2026 not really a token"
    ref = await LocalBlobStore(tmp_path).put(data)
    assert await store(tmp_path, accept_plaintext=True).get(ref) == data


async def test_old_key_still_reads_after_a_new_key_is_first(tmp_path: Path) -> None:
    """Reads decrypt with whichever key of the ring sealed the blob."""
    ref = await store(tmp_path, OLD).put(SECRET)
    assert await store(tmp_path, NEW, OLD).get(ref) == SECRET


async def test_rotation_reseals_old_and_plaintext_blobs(tmp_path: Path) -> None:
    """Rotation moves every blob under the active key, counts them, and a second run changes nothing."""
    local = LocalBlobStore(tmp_path)
    old_refs = [await store(tmp_path, OLD).put(f"old {i}".encode()) for i in range(3)]
    plain_ref = await local.put(SECRET)
    rotated = store(tmp_path, NEW, OLD)
    new_ref = await rotated.put(b"already new")
    (local.path_of(new_ref).parent / ".incoming-leftover").write_bytes(b"half written")

    report = await rotate_blobs(rotated)

    assert (report.reencrypted, report.encrypted_plaintext, report.unchanged) == (3, 1, 1)
    assert report.active_key_id == "k2026"
    only_new = store(tmp_path, NEW)  # the old key can now leave the ring
    for i, ref in enumerate(old_refs):
        assert await only_new.get(ref) == f"old {i}".encode()
    assert await only_new.get(plain_ref) == SECRET
    assert b"4242-SECRET" not in local.path_of(plain_ref).read_bytes()
    again = await rotate_blobs(rotated)
    assert (again.reencrypted, again.encrypted_plaintext, again.unchanged) == (0, 0, 5)


async def test_rotation_stops_at_an_unreadable_blob(tmp_path: Path) -> None:
    """A blob no key can open stops rotation with BlobIntegrityError instead of being overwritten."""
    ref = await store(tmp_path, OLD).put(SECRET)
    before = LocalBlobStore(tmp_path).path_of(ref).read_bytes()
    with pytest.raises(BlobIntegrityError):
        await rotate_blobs(store(tmp_path, NEW))
    assert LocalBlobStore(tmp_path).path_of(ref).read_bytes() == before


async def test_factory_encrypts_by_default(tmp_path: Path) -> None:
    """make_blob_store(settings) is the local backend wrapped in encryption unless turned off."""
    encrypted = make_blob_store(ServiceSettings(blob_dir=tmp_path))
    assert isinstance(encrypted, EncryptedBlobStore)
    ref = await encrypted.put(SECRET)
    assert await LocalBlobStore(tmp_path).get(ref) != SECRET
    plain = make_blob_store(ServiceSettings(blob_dir=tmp_path / "plain", blob_encryption=False))
    assert isinstance(plain, LocalBlobStore)


def test_s3_backend_needs_a_bucket() -> None:
    """BLOB_BACKEND=s3 without BLOB_S3_BUCKET is a settings error."""
    with pytest.raises(ValueError, match="BLOB_S3_BUCKET"):
        ServiceSettings(blob_backend="s3")
