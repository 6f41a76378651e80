"""`postdesk keys rotate`: everything sealed with ENCRYPTION_KEYS, moved to the active key.

The keyring seals the blobs (raw mail, bodies, attachments) and, in the
database, IMAP passwords, SMTP passwords and webhook signing secrets. After a
new key is put first in ENCRYPTION_KEYS (and every process runs with it),
this re-seals the database values not under the active key, then
re-encrypts the blobs (`postdesk blobs rotate` does only the latter).

A value is re-sealed only if it is unchanged since it was read, so an admin
changing a password at the same moment wins; run the command again to pick
it up. The old key must stay in the ring after the first even when nothing
is sealed under it any more: the thread tokens in mail already sent (reply
addresses, Message-IDs) are checked against every key of the ring.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from dataclasses import dataclass
from typing import Any

from postdesk_runtime.blobcrypto import rotate_blobs
from postdesk_runtime.blobfactory import make_encrypted_blob_store
from postdesk_runtime.blobstore import BlobIntegrityError
from postdesk_runtime.db import Sessions, make_engine, make_sessions
from postdesk_runtime.imap_credentials import IMAP_PASSWORD_PURPOSE
from postdesk_runtime.keyring import Keyring, KeyringError
from postdesk_runtime.webhook_signing import SECRET_PURPOSE
from postdesk_schema import ImapMailbox, SmtpServer, WebhookSubscription
from postdesk_smtp.settings import PASSWORD_PURPOSE
from sqlalchemy import update
from sqlmodel import col, select

from postdesk_cli.blobs import rotation_line
from postdesk_cli.settings import CliSettings

BATCH = 200


@dataclass(frozen=True)
class SealedColumn:
    table: Any
    column: str
    purpose: bytes

    @property
    def name(self) -> str:
        return f"{self.table.__tablename__}.{self.column}"


SEALED_COLUMNS = (
    SealedColumn(ImapMailbox, "password_ciphertext", IMAP_PASSWORD_PURPOSE),
    SealedColumn(SmtpServer, "password_sealed", PASSWORD_PURPOSE),
    SealedColumn(WebhookSubscription, "secret_sealed", SECRET_PURPOSE),
)


@dataclass
class Resealed:
    column: str
    resealed: int = 0
    current: int = 0
    changed_meanwhile: int = 0


async def reseal(sessions: Sessions, keyring: Keyring, sealed: SealedColumn) -> Resealed:
    """Re-seal every value of `sealed` not under the active key; KeyringError if one cannot
    be opened (a key missing from the ring: nothing after it is touched)."""
    done = Resealed(sealed.name)
    value = col(getattr(sealed.table, sealed.column))
    key = col(sealed.table.id)
    after = None
    while True:
        async with sessions() as session, session.begin():
            query = select(key, value).where(value != "").order_by(key).limit(BATCH)
            if after is not None:
                query = query.where(key > after)
            rows = (await session.execute(query)).all()
            for row_id, token in rows:
                if keyring.key_id_of(base64.b64decode(token)) == keyring.active_key_id:
                    done.current += 1
                    continue
                plain = keyring.decrypt_text(token, purpose=sealed.purpose)
                fresh = keyring.encrypt_text(plain, purpose=sealed.purpose)
                result = await session.execute(
                    update(sealed.table)
                    .where(key == row_id, value == token)
                    .values({sealed.column: fresh})
                )
                if getattr(result, "rowcount", 0) == 1:
                    done.resealed += 1
                else:
                    done.changed_meanwhile += 1
        if len(rows) < BATCH:
            return done
        after = rows[-1][0]


def cmd_keys_rotate(settings: CliSettings) -> int:
    keyring = settings.keyring()

    async def rotate() -> int:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            sessions = make_sessions(engine)
            for sealed in SEALED_COLUMNS:
                try:
                    done = await reseal(sessions, keyring, sealed)
                except KeyringError as error:
                    print(f"{sealed.name}: rotation stopped: {error}", file=sys.stderr)
                    return 1
                print(
                    f"{done.column} under key {keyring.active_key_id!r}: {done.resealed} "
                    f"re-sealed, {done.current} already current"
                    + (
                        f", {done.changed_meanwhile} changed meanwhile (run again)"
                        if done.changed_meanwhile
                        else ""
                    ),
                    flush=True,
                )
        finally:
            await engine.dispose()
        try:
            report = await rotate_blobs(make_encrypted_blob_store(settings))
        except BlobIntegrityError as error:
            print(f"blobs: rotation stopped: {error}", file=sys.stderr)
            return 1
        print(rotation_line(report))
        return 0

    return asyncio.run(rotate())
