"""Files an agent uploads to attach to a later reply or new mail.

No table records an upload: its `upload_id` is the upload's description
(tenant, user, blob_ref, name, type, size, sha256, time) sealed with the
keyring under the purpose `upload`. Sealing authenticates it, so a token
that verifies was issued here, unchanged; it is honoured only for the user
and tenant it names and for `UPLOAD_LIFETIME` after it was issued. The
bytes go to the (encrypted, content-addressed) blob store before the token
exists, so a verified token always names a stored blob.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from postdesk_contracts import Attachment
from postdesk_contracts.api import UploadResult
from postdesk_runtime.blobstore import BlobStore
from postdesk_runtime.keyring import Keyring

from postdesk_gateway.domain import CurrentUser, InvalidRequestError, PayloadTooLargeError

UPLOAD_PURPOSE = b"upload"
UPLOAD_LIFETIME = timedelta(hours=24)
DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_FILENAME = "attachment"
MAX_FILENAME_CHARS = 255
# Clock skew between gateway replicas a token's issue time may be ahead by.
_FUTURE_SKEW = timedelta(minutes=5)
_FILENAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_MIB = 1024 * 1024


def sanitize_filename(name: str | None) -> str:
    """The name an attachment may carry: its last path component (either slash), no
    control characters, NFC, trimmed, at most 255 characters keeping the extension;
    `attachment` when nothing is left."""
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = _FILENAME_CONTROL.sub("", unicodedata.normalize("NFC", base)).strip(" .")
    if not cleaned:
        return DEFAULT_FILENAME
    if len(cleaned) <= MAX_FILENAME_CHARS:
        return cleaned
    stem, dot, ext = cleaned.rpartition(".")
    if dot and stem and len(ext) < 16:
        return stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
    return cleaned[:MAX_FILENAME_CHARS]


def normalize_content_type(value: str | None) -> str:
    """The upload's declared media type without parameters, lower-case; the default for
    anything that is not a plain `type/subtype`."""
    media = (value or "").split(";", 1)[0].strip().lower()
    return media if _CONTENT_TYPE.match(media) else DEFAULT_CONTENT_TYPE


@dataclass(frozen=True)
class Uploads:
    """Stores uploads and verifies the tokens that name them.

    `max_bytes` bounds one file; `max_total_bytes` the files of one mail.
    """

    keyring: Keyring
    blobs: BlobStore
    max_bytes: int = 20 * _MIB
    max_total_bytes: int = 25 * _MIB

    async def store(
        self,
        user: CurrentUser,
        *,
        filename: str | None,
        content_type: str | None,
        data: bytes,
        now: datetime | None = None,
    ) -> UploadResult:
        """Put the bytes in the blob store and seal a token for them (413 over `max_bytes`)."""
        if len(data) > self.max_bytes:
            raise PayloadTooLargeError(f"a file may have at most {_size(self.max_bytes)}")
        attachment = Attachment(
            filename=sanitize_filename(filename),
            content_type=normalize_content_type(content_type),
            size=len(data),
            blob_ref=await self.blobs.put(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        issued = now or datetime.now(UTC)
        claims = {
            "tenant_id": str(user.tenant_id),
            "user_id": str(user.id),
            "blob_ref": attachment.blob_ref,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "sha256": attachment.sha256,
            "created_at": issued.isoformat(),
        }
        token = self.keyring.encrypt_text(json.dumps(claims), purpose=UPLOAD_PURPOSE)
        return UploadResult(
            upload_id=token,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            sha256=attachment.sha256,
        )

    def attachments(
        self, user: CurrentUser, upload_ids: Sequence[str], *, now: datetime | None = None
    ) -> list[Attachment]:
        """The attachments `upload_ids` name, in order; 400 for a token that is not one
        of `user`'s or has expired, 413 when together they exceed `max_total_bytes`."""
        now = now or datetime.now(UTC)
        found = [self._verify(user, token, now, index) for index, token in enumerate(upload_ids)]
        total = sum(a.size for a in found)
        if total > self.max_total_bytes:
            raise PayloadTooLargeError(
                f"the attachments of one mail may have at most {_size(self.max_total_bytes)} "
                f"together; these have {_size(total)}"
            )
        return found

    def _verify(self, user: CurrentUser, token: str, now: datetime, index: int) -> Attachment:
        invalid = InvalidRequestError(
            f"attachments[{index}] is not a valid upload_id of yours (upload the file again)"
        )
        try:
            claims = json.loads(self.keyring.decrypt_text(token, purpose=UPLOAD_PURPOSE))
            tenant_id = uuid.UUID(claims["tenant_id"])
            user_id = uuid.UUID(claims["user_id"])
            created_at = datetime.fromisoformat(claims["created_at"])
            attachment = Attachment(
                filename=claims["filename"],
                content_type=claims["content_type"],
                size=int(claims["size"]),
                blob_ref=claims["blob_ref"],
                sha256=claims["sha256"],
            )
        except (ValueError, KeyError, TypeError) as error:  # damaged, forged, not ours
            raise invalid from error
        if tenant_id != user.tenant_id or user_id != user.id:
            raise invalid
        if created_at.tzinfo is None or created_at > now + _FUTURE_SKEW:
            raise invalid
        if now - created_at > UPLOAD_LIFETIME:
            raise InvalidRequestError(
                f"attachments[{index}] expired: an upload_id is valid for "
                f"{int(UPLOAD_LIFETIME.total_seconds() // 3600)} hours (upload the file again)"
            )
        return attachment


def _size(n: int) -> str:
    return f"{n / _MIB:g} MiB" if n >= _MIB else f"{n} bytes"
