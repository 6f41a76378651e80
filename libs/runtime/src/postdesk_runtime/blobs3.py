"""S3-compatible blob backend (AWS S3, MinIO, Ceph RGW, ...), for clusters.

Objects live at `<prefix><ab>/<cd>/<sha256>` in one bucket. boto3 is
synchronous, so every call runs in a worker thread (`asyncio.to_thread`);
the client is created once and shared (boto3 clients are thread-safe).

- `write` skips a key that exists (HEAD first), so `put` is idempotent; when
  `put_object` returns, S3 has stored the object durably (its contract), and
  boto3 sends a checksum the server verifies.
- Credentials come from boto3's standard chain (AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, profiles, instance roles).
- A missing object raises `BlobNotFoundError`; any other failure raises
  `S3UnavailableError`, an `OSError`, which callers treat as "retry later".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from postdesk_runtime.blobstore import REF_PREFIX, BlobNotFoundError, blob_ref, digest_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_LIST_PAGE = 1000


class S3UnavailableError(OSError):
    """The S3 endpoint refused or failed a request (other than "no such key")."""


def _not_found(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _NOT_FOUND


class S3BlobStore:
    """Blobs as objects of one bucket; both a `BlobStore` and a `BlobBackend`."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: S3Client | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.client: S3Client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"max_attempts": 4, "mode": "standard"}),
        )

    def key_of(self, ref: str) -> str:
        digest = digest_of(ref)
        return f"{self.prefix}{digest[:2]}/{digest[2:4]}/{digest}"

    async def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        await self.write(ref, data)
        return ref

    async def get(self, ref: str) -> bytes:
        return await self.read(ref)

    async def exists(self, ref: str) -> bool:
        return await asyncio.to_thread(self._exists, self.key_of(ref))

    async def write(self, ref: str, data: bytes) -> bool:
        key = self.key_of(ref)
        if await asyncio.to_thread(self._exists, key):
            return False
        await asyncio.to_thread(self._put, key, data)
        return True

    async def read(self, ref: str) -> bytes:
        return await asyncio.to_thread(self._get, ref, self.key_of(ref))

    async def replace(self, ref: str, data: bytes) -> None:
        key = self.key_of(ref)
        if not await asyncio.to_thread(self._exists, key):
            raise BlobNotFoundError(ref)
        await asyncio.to_thread(self._put, key, data)

    async def refs(self) -> AsyncIterator[str]:
        token: str | None = None
        while True:
            keys, token = await asyncio.to_thread(self._list_page, token)
            for key in keys:
                name = key.rsplit("/", 1)[-1]
                if len(name) == 64 and key == self.key_of(REF_PREFIX + name):
                    yield REF_PREFIX + name
            if token is None:
                return

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _not_found(error):
                return False
            raise S3UnavailableError(f"HEAD {key}: {error}") from error
        except BotoCoreError as error:
            raise S3UnavailableError(f"HEAD {key}: {error}") from error
        return True

    def _put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as error:
            raise S3UnavailableError(f"PUT {key}: {error}") from error

    def _get(self, ref: str, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read()
        except ClientError as error:
            if _not_found(error):
                raise BlobNotFoundError(ref) from error
            raise S3UnavailableError(f"GET {key}: {error}") from error
        except BotoCoreError as error:
            raise S3UnavailableError(f"GET {key}: {error}") from error

    def _list_page(self, token: str | None) -> tuple[list[str], str | None]:
        try:
            if token is None:
                page = self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=self.prefix, MaxKeys=_LIST_PAGE
                )
            else:
                page = self.client.list_objects_v2(
                    Bucket=self.bucket,
                    Prefix=self.prefix,
                    MaxKeys=_LIST_PAGE,
                    ContinuationToken=token,
                )
        except (ClientError, BotoCoreError) as error:
            raise S3UnavailableError(f"LIST {self.prefix!r}: {error}") from error
        keys = [item["Key"] for item in page.get("Contents", []) if "Key" in item]
        return keys, page.get("NextContinuationToken") if page.get("IsTruncated") else None
