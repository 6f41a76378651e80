"""The one place a service turns its settings into a blob store.

BLOB_BACKEND=local (BLOB_DIR) or s3 (BLOB_S3_BUCKET, BLOB_S3_PREFIX,
BLOB_S3_ENDPOINT_URL, BLOB_S3_REGION, AWS credentials from the standard
environment variables). Encryption is on unless BLOB_ENCRYPTION=false, with
`settings.keyring()`; BLOB_ACCEPT_PLAINTEXT lets it read blobs written
before encryption was on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from postdesk_runtime.blobcrypto import EncryptedBlobStore
from postdesk_runtime.blobstore import BlobStore, LocalBlobStore
from postdesk_runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from postdesk_runtime.blobs3 import S3BlobStore


def make_blob_backend(settings: ServiceSettings) -> LocalBlobStore | S3BlobStore:
    """The storage backend alone, without encryption (for tools such as rotation)."""
    if settings.blob_backend == "s3":
        from postdesk_runtime.blobs3 import S3BlobStore  # boto3 loads only when S3 is used

        assert settings.blob_s3_bucket is not None  # the settings validator requires it
        return S3BlobStore(
            settings.blob_s3_bucket,
            prefix=settings.blob_s3_prefix,
            endpoint_url=settings.blob_s3_endpoint_url,
            region=settings.blob_s3_region,
        )
    return LocalBlobStore(settings.blob_dir)


def make_encrypted_blob_store(settings: ServiceSettings) -> EncryptedBlobStore:
    return EncryptedBlobStore(
        make_blob_backend(settings),
        settings.keyring(),
        accept_plaintext=settings.blob_accept_plaintext,
    )


def make_blob_store(settings: ServiceSettings) -> BlobStore:
    """The blob store services use: the configured backend, encrypted unless turned off."""
    if settings.blob_encryption:
        return make_encrypted_blob_store(settings)
    return make_blob_backend(settings)
