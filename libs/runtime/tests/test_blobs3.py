"""S3BlobStore against a real local S3-compatible HTTP server (moto's ThreadedMotoServer)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from postdesk_runtime import (
    BlobIntegrityError,
    BlobNotFoundError,
    EncryptedBlobStore,
    blob_ref,
    make_blob_store,
)
from postdesk_runtime.blobcrypto import rotate_blobs
from postdesk_runtime.blobs3 import S3BlobStore, S3UnavailableError
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.settings import ServiceSettings

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, with fake credentials in the environment."""
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"postdesk-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name


def s3(endpoint: str, bucket: str, prefix: str = "blobs") -> S3BlobStore:
    return S3BlobStore(bucket, prefix=prefix, endpoint_url=endpoint, region="us-east-1")


async def test_round_trip_and_idempotent_put(endpoint: str, bucket: str) -> None:
    """put stores under <prefix>/ab/cd/<sha256>, get returns the bytes, a second put keeps the object."""
    store = s3(endpoint, bucket)
    data = b"raw mime bytes " + uuid.uuid4().bytes
    ref = await store.put(data)
    assert ref == blob_ref(data)
    assert await store.get(ref) == data
    assert await store.exists(ref)
    digest = ref.removeprefix("sha256:")
    head = store.client.head_object(Bucket=bucket, Key=f"blobs/{digest[:2]}/{digest[2:4]}/{digest}")
    assert await store.write(ref, b"something else") is False
    again = store.client.head_object(Bucket=bucket, Key=store.key_of(ref))
    assert again["ETag"] == head["ETag"]
    assert [r async for r in store.refs()] == [ref]


async def test_missing_blob_raises_not_found(endpoint: str, bucket: str) -> None:
    """A ref with no object raises BlobNotFoundError and exists() is False."""
    store = s3(endpoint, bucket)
    ref = blob_ref(b"never stored")
    assert not await store.exists(ref)
    with pytest.raises(BlobNotFoundError):
        await store.get(ref)
    with pytest.raises(BlobNotFoundError):
        await store.replace(ref, b"x")


async def test_missing_bucket_is_unavailable_not_missing(endpoint: str) -> None:
    """A bucket that does not exist is an OSError (retry later), not a missing blob."""
    store = s3(endpoint, f"absent-{uuid.uuid4().hex[:8]}")
    with pytest.raises(S3UnavailableError):
        await store.put(b"data")
    assert issubclass(S3UnavailableError, OSError)


async def test_listing_pages_through_many_objects(
    endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """refs() follows continuation tokens and ignores objects outside the layout."""
    monkeypatch.setattr("postdesk_runtime.blobs3._LIST_PAGE", 2)
    store = s3(endpoint, bucket, prefix="p/")
    refs = {await store.put(f"blob {i}".encode()) for i in range(5)}
    store.client.put_object(Bucket=bucket, Key="p/notes.txt", Body=b"not a blob")
    store.client.put_object(Bucket=bucket, Key="elsewhere/x", Body=b"other prefix")
    assert {r async for r in store.refs()} == refs


async def test_encrypted_wrapper_on_s3(endpoint: str, bucket: str) -> None:
    """Through the encryption wrapper, S3 holds only PD1 tokens; rotation reseals them there."""
    old, new = ("k1", os.urandom(32)), ("k2", os.urandom(32))
    plain = b"Subject: salary\r\n\r\nconfidential-figure-9911\r\n"
    store = EncryptedBlobStore(s3(endpoint, bucket), Keyring([old]))
    ref = await store.put(plain)
    raw_object = await s3(endpoint, bucket).read(ref)
    assert raw_object.startswith(b"PD1")
    assert b"confidential-figure-9911" not in raw_object
    assert await store.get(ref) == plain

    rotated = EncryptedBlobStore(s3(endpoint, bucket), Keyring([new, old]))
    report = await rotate_blobs(rotated)
    assert (report.reencrypted, report.unchanged) == (1, 0)
    assert await EncryptedBlobStore(s3(endpoint, bucket), Keyring([new])).get(ref) == plain
    with pytest.raises(BlobIntegrityError):
        await store.get(ref)  # the old ring alone cannot open the new token


async def test_factory_builds_encrypted_s3_from_settings(
    endpoint: str, bucket: str, tmp_path: Path
) -> None:
    """BLOB_BACKEND=s3 settings give an encrypted S3 store that writes nothing locally."""
    settings = ServiceSettings(
        blob_backend="s3",
        blob_s3_bucket=bucket,
        blob_s3_endpoint_url=endpoint,
        blob_s3_prefix="tenant-blobs",
        blob_dir=tmp_path,
    )
    store = make_blob_store(settings)
    assert isinstance(store, EncryptedBlobStore)
    assert isinstance(store.backend, S3BlobStore)
    ref = await store.put(b"hello s3")
    assert await store.get(ref) == b"hello s3"
    assert store.backend.key_of(ref).startswith("tenant-blobs/")
    assert list(tmp_path.iterdir()) == []
