"""Scenario 9 (part): the IMAP mailbox changed by others while ingest's poller reads it.

The poller keys on UIDs, not on \\Seen: it reads every UID above its recorded
position (`imap_sync_state.last_uid`) while the folder's UIDVALIDITY is the
recorded one, fetches with BODY.PEEK[] and sets \\Seen itself only after the
mail was published. So what another client does to flags changes nothing,
and a new UIDVALIDITY makes it read the folder from the start, mail it had
taken being duplicates to ingest (the dedupe key is the raw bytes and the
recipients). The proxy of `tests/faults/imap_source.py` holds the poller at
a `UID STORE` (a \\Seen flag, sent once the message's mail was published)
while the other client acts, then lets it go on:

- UIDVALIDITY changed: held at the third message's flag (two taken and
  flagged, the position after UID 2, the third published), the folder the
  mailbox reads is deleted and created again (a new UIDVALIDITY), and the
  four mails already taken come back into it with four new ones (two of
  them at UIDs 1 and 2, which a poller that kept its position would skip),
  as after a restore or a server that lost its UID list. The held flag then
  meets a deleted folder (Dovecot answers NO); the poller reconnects, sees
  the new UIDVALIDITY, and reads the new folder from the start: the old
  mails are not ticketed again, each new mail once.
- another client: held at the first message's flag (two messages per UID
  FETCH), it marks two unread messages \\Seen (a person read them in their
  mail client before the poller got to them), deletes one and moves one to
  another folder before the poller fetched them, and later APPENDs two
  mails already \\Seen; once all is read it marks two taken messages unread
  again. The mails read by the person are taken all the same; the deleted
  and the moved one were taken out of the folder by its owner before
  postdesk read them, so they are not postdesk's (the test stops counting
  them as accepted and checks they were not read, the moved one left as it
  was); marking mail unread does not make the poller read it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imap_tools import MailBoxUnencrypted

from tests.faults.imap_source import (
    SEEN,
    HoldingProxy,
    ReadPosition,
    add_mailbox,
    all_seen,
    append,
    crlf,
    flags_by_uid,
    polled_after,
    position_at,
    private_dovecot,
    read_position,
    seen_flags,
    start_pipeline,
    with_mailbox,
)
from tests.faults.stack import FaultStack, corpus, ingest_rows, published

pytestmark = pytest.mark.e2e

MAILS = 8
FOLDER = "Support"
ARCHIVE = "Archive"
UIDVALIDITY_CHANGED = "imap UIDVALIDITY changed; reading the folder again"


@pytest.fixture
def dovecot() -> Iterator[Any]:
    with private_dovecot() as server:
        yield server


async def uidvalidity(dovecot: Any, folder: str) -> int:
    def work(mailbox: MailBoxUnencrypted) -> int:
        return int(mailbox.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])

    return int(await asyncio.to_thread(with_mailbox, dovecot, work))


async def test_a_new_uidvalidity_mid_flow_tickets_taken_mail_once_and_new_mail_once(
    fault_stack: FaultStack, corpus_dir: Path, dovecot: Any
) -> None:
    mails = [crlf(raw) for raw in corpus(corpus_dir, 40)[:MAILS]]
    taken, new = mails[: MAILS // 2], mails[MAILS // 2 :]
    await asyncio.to_thread(with_mailbox, dovecot, lambda box: box.folder.create(FOLDER))
    await append(fault_stack, dovecot, taken, folder=FOLDER)
    old = await uidvalidity(dovecot, FOLDER)
    # held at the third message's \Seen flag: two taken and flagged, the third published
    proxy = HoldingProxy(dovecot.port, b"UID STORE", occurrence=3)
    await proxy.start()
    try:
        await add_mailbox(fault_stack, proxy.port, folder=FOLDER)
        await start_pipeline(fault_stack)
        await asyncio.wait_for(proxy.held.wait(), 45)
        assert await ingest_rows(fault_stack) == published(taken[:3])
        assert await read_position(fault_stack) == ReadPosition(old, 2, 2)
        assert await seen_flags(dovecot, FOLDER) == [True, True, False, False]

        def recreate(mailbox: MailBoxUnencrypted) -> None:
            mailbox.folder.delete(FOLDER)
            time.sleep(1.1)  # Dovecot's UIDVALIDITY is a time in seconds
            mailbox.folder.create(FOLDER)

        await asyncio.to_thread(with_mailbox, dovecot, recreate)
        # new mail at UIDs 1 and 2, at or below the old position: a poller that kept its
        # position would skip them
        await append(fault_stack, dovecot, [*new[:2], *taken, *new[2:]], folder=FOLDER)
        assert await uidvalidity(dovecot, FOLDER) != old
        proxy.release()  # the \Seen flag of a message of the deleted folder goes out now
        await all_seen(dovecot, MAILS, FOLDER)
    finally:
        await proxy.stop()

    # read again from the start: 2 fetched before the change, all 8 after it
    assert await position_at(fault_stack, MAILS) == ReadPosition(
        await uidvalidity(dovecot, FOLDER), MAILS, 2 + MAILS
    )
    assert UIDVALIDITY_CHANGED in fault_stack.log.getvalue()
    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0


async def test_another_client_changing_the_folder_loses_and_doubles_nothing(
    fault_stack: FaultStack, corpus_dir: Path, dovecot: Any
) -> None:
    mails = [crlf(raw) for raw in corpus(corpus_dir, 40)[: MAILS + 2]]
    first, later = mails[:MAILS], mails[MAILS:]
    await asyncio.to_thread(with_mailbox, dovecot, lambda box: box.folder.create(ARCHIVE))
    await append(fault_stack, dovecot, first)  # UIDs 1 to 8
    read_by_a_person, deleted, moved = ["3", "4"], "6", "7"
    proxy = HoldingProxy(dovecot.port, b"UID STORE")
    await proxy.start()
    try:
        await add_mailbox(fault_stack, proxy.port)
        # two messages per UID FETCH, so the poller fetches 3 to 8 after the other client acted
        await start_pipeline(fault_stack, INGEST_IMAP_FETCH_BATCH="2")
        await asyncio.wait_for(proxy.held.wait(), 45)
        assert await ingest_rows(fault_stack) == published(first[:1])

        def meddle(mailbox: MailBoxUnencrypted) -> None:
            mailbox.folder.set("INBOX")
            mailbox.flag(read_by_a_person, SEEN, True)
            mailbox.delete([deleted])
            mailbox.move([moved], ARCHIVE)

        await asyncio.to_thread(with_mailbox, dovecot, meddle)
        # taken out of the folder by its owner before postdesk read them: not postdesk's
        removed = [first[int(deleted) - 1], first[int(moved) - 1]]
        for raw in removed:
            del fault_stack.accepted[hashlib.sha256(raw).hexdigest()]
        proxy.release()
        await append(fault_stack, dovecot, later, flags=[SEEN])  # UIDs 9 and 10
        expected = [raw for raw in mails if raw not in removed]

        await position_at(fault_stack, MAILS + 2)

        flags = await flags_by_uid(dovecot)
        assert list(flags) == [1, 2, 3, 4, 5, 8, 9, 10]
        assert all(SEEN in found for found in flags.values())
        assert await ingest_rows(fault_stack) == published(expected)
        assert (await read_position(fault_stack)).messages_fetched == len(expected)
        archived = await flags_by_uid(dovecot, ARCHIVE)
        assert [SEEN in found for found in archived.values()] == [False]  # not touched

        # a person marks two taken messages unread: the poller does not read them again
        await asyncio.to_thread(
            with_mailbox,
            dovecot,
            lambda box: (box.folder.set("INBOX"), box.flag(["1", "2"], SEEN, False)),
        )
        await polled_after(fault_stack, 1.5)  # a whole poll after the change
        flags = await flags_by_uid(dovecot)
        assert [SEEN in flags[uid] for uid in (1, 2)] == [False, False]
        assert (await read_position(fault_stack)).messages_fetched == len(expected)
    finally:
        await proxy.stop()

    assert await ingest_rows(fault_stack) == published(expected)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == len(expected)
    assert report.answers_requested > 0
