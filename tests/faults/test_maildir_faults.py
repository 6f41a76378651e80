"""Scenario 10: ingest watching a maildir; a half-written delivery, and ingest dying between
its commit and its move of the file.

Ingest runs with `INGEST_MAILDIRS` pointing at a maildir of the test's own
for the demo mailbox, scanned every 0.1 s, inside the whole pipeline. The
test is the MTA: it delivers as maildir requires, writing a message into
tmp/ and renaming it into new/. A mail counts as accepted the moment its
file is in new/; the watcher's acknowledgement is the move to
`cur/<name>:2,S` after `accept_raw_mail` returned.

- half-written: a message is written half into tmp/ and left open there
  while other mails are delivered and moved to cur/; ingest does not read
  it. Finished and renamed into new/, it is accepted once.
- crash after the stored row: `POSTDESK_FAILPOINTS=ingest.after_store=exit`
  ends ingest on its first file between the committed `stored` row and the
  publish. The file stays in new/; ingest started again publishes it.
- crash after the commit, before the move: cur/ is replaced by a regular
  file, so the move fails (ENOTDIR) after the mail was published and marked
  `published`: the state a crash in that gap leaves. Ingest is then killed
  (SIGKILL), cur/ put back and ingest started again: it finds the file in
  new/ once more, accepts it as a duplicate (same event id, no second
  publish) and moves it.

Each mail ends as one message, and the invariant holds for all of them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from pathlib import Path

import pytest
from postdesk_runtime.failpoints import ENV_VAR, KILLED_STATUS
from postdesk_testing import eventually

from tests.faults.stack import (
    MAILBOX,
    MAILSINK,
    PIPELINE,
    FaultStack,
    corpus,
    ingest_rows,
    published,
)

pytestmark = pytest.mark.e2e

MAILS = 8
POLL_SECONDS = "0.1"
SCAN_FAILED = "maildir scan failed; files stay in new/"
DELIVERIES = itertools.count()


def maildir_env(maildir: Path) -> dict[str, str]:
    return {
        "INGEST_MAILDIRS": f"{maildir}={MAILBOX}",
        "INGEST_MAILDIR_POLL_SECONDS": POLL_SECONDS,
        # a failing scan is retried within a second, not after up to a minute
        "INGEST_MAILDIR_MAX_BACKOFF_SECONDS": "0.5",
    }


def make_maildir(maildir: Path) -> None:
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)


def deliver(stack: FaultStack, maildir: Path, raw: bytes) -> Path:
    """Deliver as an MTA does (write into tmp/, rename into new/); the mail is accepted."""
    # names as maildir writers make them (time first), so new/ sorts in order of delivery
    name = f"{time.time_ns()}.M{next(DELIVERIES)}P{os.getpid()}.faults"
    temporary = maildir / "tmp" / name
    with temporary.open("wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    delivered = maildir / "new" / name
    temporary.rename(delivered)
    stack.accept(raw)
    return delivered


def files_in(maildir: Path, sub: str) -> list[str]:
    return sorted(path.name for path in (maildir / sub).iterdir())


def seen(delivered: Path) -> Path:
    """Where the watcher moves a file it acknowledged."""
    return delivered.parent.parent / "cur" / (delivered.name + ":2,S")


async def all_moved(delivered: list[Path]) -> None:
    async def moved() -> bool | None:
        return True if all(seen(path).is_file() for path in delivered) else None

    await eventually(moved, within=45, interval=0.1)


async def test_a_half_written_delivery_is_taken_only_once_renamed_into_new(
    fault_stack: FaultStack, corpus_dir: Path, tmp_path: Path
) -> None:
    mails = corpus(corpus_dir, 40)[:MAILS]
    maildir = tmp_path / "Maildir"
    make_maildir(maildir)
    fault_stack.supervisor.start("ingest", **maildir_env(maildir))
    await fault_stack.start(*(name for name in PIPELINE if name != "ingest"), MAILSINK)

    *complete, unfinished = mails
    half = len(unfinished) // 2
    name = f"{uuid.uuid4().hex}.M1P{os.getpid()}.half"
    writing = maildir / "tmp" / name
    with writing.open("wb") as handle:
        handle.write(unfinished[:half])
        handle.flush()
        os.fsync(handle.fileno())
        # the other mails are delivered and acknowledged while this one is half written:
        # the watcher scanned many times meanwhile (every 0.1 s)
        delivered = [deliver(fault_stack, maildir, raw) for raw in complete]
        await all_moved(delivered)
        await asyncio.sleep(1)  # ten more scans
        assert files_in(maildir, "tmp") == [name]
        assert files_in(maildir, "new") == []
        assert await ingest_rows(fault_stack) == published(complete)
        handle.write(unfinished[half:])
        handle.flush()
        os.fsync(handle.fileno())
    last = maildir / "new" / name
    writing.rename(last)
    fault_stack.accept(unfinished)
    await all_moved([last])

    assert files_in(maildir, "tmp") == []
    assert files_in(maildir, "new") == []
    assert len(files_in(maildir, "cur")) == MAILS
    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0


async def test_ingest_killed_after_its_stored_row_publishes_the_file_when_started_again(
    fault_stack: FaultStack, corpus_dir: Path, tmp_path: Path
) -> None:
    mails = corpus(corpus_dir, 40)[:MAILS]
    maildir = tmp_path / "Maildir"
    make_maildir(maildir)
    await fault_stack.start(*(name for name in PIPELINE if name != "ingest"), MAILSINK)
    before = [deliver(fault_stack, maildir, raw) for raw in mails[: MAILS // 2]]

    doomed = fault_stack.supervisor.start(
        "ingest", **maildir_env(maildir), **{ENV_VAR: "ingest.after_store=exit"}
    )
    status = await asyncio.to_thread(doomed.process.wait, 60)
    assert status == KILLED_STATUS, fault_stack.log.getvalue()[-3000:]
    fault_stack.supervisor.stop("ingest")
    # died on the first file (oldest name) after committing its stored row, before the publish
    rows = await ingest_rows(fault_stack)
    assert [status for _, status in rows] == ["stored"], rows
    assert files_in(maildir, "new") == sorted(path.name for path in before)
    assert files_in(maildir, "cur") == []

    fault_stack.supervisor.start("ingest", **maildir_env(maildir))
    after = [deliver(fault_stack, maildir, raw) for raw in mails[MAILS // 2 :]]
    await all_moved(before + after)

    assert files_in(maildir, "new") == []
    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0


async def test_ingest_killed_between_its_commit_and_the_move_accepts_the_file_once(
    fault_stack: FaultStack, corpus_dir: Path, tmp_path: Path
) -> None:
    mails = corpus(corpus_dir, 40)[:MAILS]
    maildir = tmp_path / "Maildir"
    make_maildir(maildir)
    fault_stack.supervisor.start("ingest", **maildir_env(maildir))
    await fault_stack.start(*(name for name in PIPELINE if name != "ingest"), MAILSINK)

    # cur/ replaced by a regular file (one rename each way): moving into it fails with ENOTDIR
    # (root ignores permissions, so chmod would stop nothing)
    cur, saved = maildir / "cur", maildir / "cur.saved"
    cur.rename(saved)
    blocker = maildir / "cur.file"
    blocker.write_bytes(b"not a directory\n")
    blocker.replace(cur)

    before = [deliver(fault_stack, maildir, raw) for raw in mails[: MAILS // 2]]
    first = mails[0]  # the watcher takes new/ in order of name, here of delivery

    async def committed_and_retried() -> bool | None:
        # the first file published and marked, its move failed and then failed again after a
        # rescan: the scan stops at the failed move, so the others are not read yet
        failures = [
            line
            for line in fault_stack.log.getvalue().splitlines()
            if SCAN_FAILED in line and "Not a directory" in line
        ]
        return True if len(failures) >= 2 else None

    await eventually(committed_and_retried, within=45, interval=0.1)
    assert await ingest_rows(fault_stack) == published([first])
    status = await asyncio.to_thread(fault_stack.kill, "ingest")
    assert status == -9
    assert files_in(maildir, "new") == sorted(path.name for path in before)

    cur.unlink()
    saved.rename(cur)
    fault_stack.supervisor.start("ingest", **maildir_env(maildir))
    after = [deliver(fault_stack, maildir, raw) for raw in mails[MAILS // 2 :]]
    await all_moved(before + after)

    assert files_in(maildir, "new") == []
    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0
