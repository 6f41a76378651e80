"""`postdesk blobs rotate`: re-encrypt every blob not sealed by the active key.

Run it after putting a new key first in ENCRYPTION_KEYS (keep the old one
after it until this has finished); then the old key may leave the ring.
Blobs stored unencrypted before encryption was on are encrypted too.
"""

from __future__ import annotations

import asyncio
import sys

from postdesk_runtime.blobcrypto import RotationReport, rotate_blobs
from postdesk_runtime.blobfactory import make_encrypted_blob_store
from postdesk_runtime.blobstore import BlobIntegrityError
from postdesk_runtime.settings import ServiceSettings


def cmd_blobs_rotate(settings: ServiceSettings) -> int:
    """Rotate the blob store named by the settings; print the counts."""
    try:
        report: RotationReport = asyncio.run(rotate_blobs(make_encrypted_blob_store(settings)))
    except BlobIntegrityError as error:
        # blobs done so far stay done: fix the ring (or the blob) and run again
        print(f"rotation stopped: {error}", file=sys.stderr)
        return 1
    print(rotation_line(report))
    return 0


def rotation_line(report: RotationReport) -> str:
    return (
        f"blobs under key {report.active_key_id!r}: {report.reencrypted} re-encrypted, "
        f"{report.encrypted_plaintext} encrypted from plaintext, "
        f"{report.unchanged} already current ({report.total} in all)"
    )
