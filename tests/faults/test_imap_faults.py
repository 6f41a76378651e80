"""Scenario 9 (part): ingest polling an IMAP mailbox of a private Dovecot (after-action
"flag"), killed before and after its commit, and the connection cut mid-fetch by a Dovecot
restart. `tests/faults/imap_source.py` holds the mailbox and the proxy that stops the poller's
connection at a chosen command.

- killed before the commit: `POSTDESK_FAILPOINTS` ends ingest (status 137, as SIGKILL) once
  the first batch was fetched and before anything was stored
  (`ingest.imap.after_fetch`), or after the first mail's stored row and before its publish
  (`ingest.after_store`); started again without it, the poller reads the folder from where
  its position was (nothing advanced), and the stored mail is published then.
- killed after the commit, before \\Seen: the proxy keeps back the first `UID STORE` (the
  \\Seen flag of the first message, sent after its `mail.received` was confirmed and marked
  published). Ingest gets SIGKILL there, and is started again once the dead replica's lease
  ran out: the first message is read again (a duplicate to ingest), every message is flagged.
- cut mid-fetch: the proxy passes part of the first `UID FETCH` answer and keeps back the
  rest; Dovecot is restarted (every connection closed). Nothing was accepted from the cut
  fetch; the poller reconnects and reads the mailbox from where it was.

Every mail ends as one message, all flagged \\Seen, and the invariant holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postdesk_runtime.failpoints import ENV_VAR, KILLED_STATUS

from tests.faults.imap_source import (
    IMAP_ENV,
    HoldingProxy,
    add_mailbox,
    all_seen,
    append,
    crlf,
    position_at,
    private_dovecot,
    read_position,
    seen_flags,
    start_pipeline,
)
from tests.faults.stack import MAILSINK, PIPELINE, FaultStack, corpus, ingest_rows, published

pytestmark = pytest.mark.e2e

MAILS = 8
FETCH_CUT_AFTER = 1000  # bytes of the first UID FETCH answer passed before the hold


@pytest.fixture
def dovecot() -> Iterator[Any]:
    with private_dovecot() as server:
        yield server


async def test_ingest_killed_after_its_commit_before_the_seen_flag_reads_each_mail_once(
    fault_stack: FaultStack, corpus_dir: Path, dovecot: Any
) -> None:
    mails = [crlf(raw) for raw in corpus(corpus_dir, 40)[:MAILS]]
    await append(fault_stack, dovecot, mails)
    # the \Seen flag of the first message, sent after its publish was confirmed
    proxy = HoldingProxy(dovecot.port, b"UID STORE")
    await proxy.start()
    try:
        await add_mailbox(fault_stack, proxy.port)
        await start_pipeline(fault_stack)
        await asyncio.wait_for(proxy.held.wait(), 45)
        # the first message published and marked, not yet flagged
        assert await ingest_rows(fault_stack) == published(mails[:1])
        assert await seen_flags(dovecot) == [False] * MAILS
        assert await asyncio.to_thread(fault_stack.kill, "ingest") == -9

        fault_stack.supervisor.start("ingest", **IMAP_ENV)
        await all_seen(dovecot, MAILS)
    finally:
        await proxy.stop()

    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0


async def test_a_connection_cut_mid_fetch_by_a_dovecot_restart_loses_and_doubles_nothing(
    fault_stack: FaultStack, corpus_dir: Path, dovecot: Any
) -> None:
    mails = [crlf(raw) for raw in corpus(corpus_dir, 40)[:MAILS]]
    assert sum(map(len, mails)) > 4 * FETCH_CUT_AFTER  # the cut comes inside the mail
    await append(fault_stack, dovecot, mails)
    proxy = HoldingProxy(dovecot.port, b"UID FETCH", FETCH_CUT_AFTER)
    await proxy.start()
    try:
        await add_mailbox(fault_stack, proxy.port)
        await start_pipeline(fault_stack)
        await asyncio.wait_for(proxy.held.wait(), 45)
        await asyncio.to_thread(dovecot.restart)
        # nothing of the cut fetch was accepted
        assert await ingest_rows(fault_stack) == []
        await all_seen(dovecot, MAILS)
    finally:
        await proxy.stop()

    assert proxy.connections >= 2  # the poller reconnected
    assert "imap mailbox failed; retrying" in fault_stack.log.getvalue()
    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0


@pytest.mark.parametrize(
    ("failpoint", "rows_at_the_kill"),
    [("ingest.imap.after_fetch", []), ("ingest.after_store", ["stored"])],
    ids=["after-fetch", "after-stored-row"],
)
async def test_ingest_killed_before_its_commit_reads_each_mail_once_when_started_again(
    fault_stack: FaultStack,
    corpus_dir: Path,
    dovecot: Any,
    failpoint: str,
    rows_at_the_kill: list[str],
) -> None:
    mails = [crlf(raw) for raw in corpus(corpus_dir, 40)[:MAILS]]
    await append(fault_stack, dovecot, mails)
    await add_mailbox(fault_stack, dovecot.port)
    await fault_stack.start(*(name for name in PIPELINE if name != "ingest"), MAILSINK)

    doomed = fault_stack.supervisor.start("ingest", **IMAP_ENV, **{ENV_VAR: f"{failpoint}=exit"})
    status = await asyncio.to_thread(doomed.process.wait, 60)
    assert status == KILLED_STATUS, fault_stack.log.getvalue()[-3000:]
    fault_stack.supervisor.stop("ingest")
    # died on the first batch (all 8 mails fetched in one): at most the first mail's stored
    # row, nothing published, nothing flagged, the read position not moved
    rows = await ingest_rows(fault_stack)
    assert [row_status for _, row_status in rows] == rows_at_the_kill, rows
    assert await seen_flags(dovecot) == [False] * MAILS
    assert (await read_position(fault_stack)).last_uid == 0

    fault_stack.supervisor.start("ingest", **IMAP_ENV)
    await all_seen(dovecot, MAILS)

    position = await position_at(fault_stack, MAILS)
    assert (position.last_uid, position.messages_fetched) == (MAILS, MAILS)
    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0
