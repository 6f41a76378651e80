"""Scenario 4: the blob store unwritable or full; ingest refuses for the time being and
acknowledges nothing it did not store.

Tests run as root, so taking the write permission away stops nothing. Two
faults that do stop root, each while the whole pipeline runs and mail flows:

- unwritable: ingest's BLOB_DIR is a symlink to the stack's blob directory
  (every other service uses the directory itself). A regular file is renamed
  over the symlink, so creating the blob's directory fails with ENOTDIR; the
  symlink renamed back is the fix.
- full: ingest's file size limit (RLIMIT_FSIZE, set on the running process
  with prlimit) drops to a few bytes, so each blob write fails half-way with
  EFBIG ("File too large"), as on a full disk (Python ignores SIGXFSZ). The
  old limit back is the fix.

While the fault lasts every new mail is answered 503 (the blob store named,
Retry-After set); ingest's log holds no row for it, no mail.received is
published, no blob and no half-written file is left. The source keeps
retrying; once the fault is fixed its retries are accepted and the
invariant holds for every mail, each counted once.
"""

from __future__ import annotations

import asyncio
import hashlib
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from postdesk_contracts import EventType
from postdesk_runtime import LocalBlobStore
from postdesk_runtime.blobstore import blob_ref
from postdesk_schema.logs import EmailProcessingLog
from postdesk_testing import drain, tap
from sqlalchemy import select
from sqlmodel import col

from tests.faults.stack import MAILSINK, PIPELINE, FaultStack, corpus

pytestmark = pytest.mark.e2e

MAILS = 12
BEFORE_FAULT = 4  # accepted while the store works, so the fault comes mid-flow
FULL_AT_BYTES = 64  # smaller than any blob: every write fails part-way


@dataclass
class BlobFault:
    """How to break ingest's blob store and mend it; `error` is what ingest logs meanwhile."""

    error: str
    ingest_env: dict[str, str]
    damage: Callable[[], None]
    mend: Callable[[], None]


def unwritable(stack: FaultStack, scratch: Path) -> BlobFault:
    """Ingest's BLOB_DIR a symlink to the blob directory; a regular file in its place.

    Both swaps are one rename each, so a request meanwhile never finds the path missing
    (where ingest would make a directory of its own)."""
    stack.blob_dir.mkdir(parents=True, exist_ok=True)
    view = scratch / "ingest-blobs"
    view.symlink_to(stack.blob_dir, target_is_directory=True)

    def damage() -> None:
        blocker = scratch / "ingest-blobs.file"
        blocker.write_bytes(b"not a directory\n")
        blocker.replace(view)

    def mend() -> None:
        link = scratch / "ingest-blobs.link"
        link.symlink_to(stack.blob_dir, target_is_directory=True)
        link.replace(view)

    return BlobFault("Not a directory", {"BLOB_DIR": str(view)}, damage, mend)


def full(stack: FaultStack) -> BlobFault:
    """Ingest's file size limit a few bytes (the soft limit; the hard one stays)."""
    saved: list[tuple[int, int]] = []

    def pid() -> int:
        return stack.supervisor.processes["ingest"].process.pid

    def damage() -> None:
        soft, hard = resource.prlimit(pid(), resource.RLIMIT_FSIZE)
        saved.append((soft, hard))
        resource.prlimit(pid(), resource.RLIMIT_FSIZE, (FULL_AT_BYTES, hard))

    def mend() -> None:
        resource.prlimit(pid(), resource.RLIMIT_FSIZE, saved.pop())

    return BlobFault("File too large", {}, damage, mend)


async def ingest_rows(stack: FaultStack, sha256s: list[str]) -> list[tuple[str, str]]:
    """(sha256, status) of ingest's processing-log rows for these mails."""
    async with stack.engine.connect() as conn:
        rows = await conn.execute(
            select(col(EmailProcessingLog.sha256), col(EmailProcessingLog.status)).where(
                col(EmailProcessingLog.stage) == "ingest",
                col(EmailProcessingLog.sha256).in_(sha256s),
            )
        )
        return [(row.sha256, row.status) for row in rows]


def half_written(blob_dir: Path) -> list[Path]:
    """Temporary files of blob writes that never completed."""
    return sorted(blob_dir.rglob(".incoming-*"))


@pytest.mark.parametrize("kind", ["unwritable", "full"])
async def test_a_broken_blob_store_is_refused_and_nothing_unstored_is_acknowledged(
    fault_stack: FaultStack, corpus_dir: Path, tmp_path: Path, kind: str
) -> None:
    mails = corpus(corpus_dir, 40)[:MAILS]
    fault = unwritable(fault_stack, tmp_path) if kind == "unwritable" else full(fault_stack)
    fault_stack.supervisor.start("ingest", **fault.ingest_env)
    await fault_stack.start(*(name for name in PIPELINE if name != "ingest"), MAILSINK)

    async with httpx.AsyncClient(timeout=30) as client:
        for raw in mails[:BEFORE_FAULT]:
            await fault_stack.post_until_accepted(client, raw)
        refused = mails[BEFORE_FAULT:]
        refused_sha256s = [hashlib.sha256(raw).hexdigest() for raw in refused]

        async with tap(fault_stack.amqp_url, EventType.MAIL_RECEIVED.value) as received:
            fault.damage()
            for raw in refused:
                response = await fault_stack.post(client, raw)
                assert response.status_code == 503, response.text
                assert "blob store" in response.json()["detail"], response.text
                assert response.headers.get("Retry-After"), response.headers

            # the source keeps retrying (every 0.2 s) while the fault lasts
            sources = [
                asyncio.create_task(fault_stack.post_until_accepted(client, raw)) for raw in refused
            ]
            try:
                await asyncio.sleep(1.5)
                done = [task for task in sources if task.done()]
                assert not done, [task.exception() for task in done]  # none accepted, none failed
                assert len(fault_stack.accepted) == BEFORE_FAULT
                assert await ingest_rows(fault_stack, refused_sha256s) == []
                assert await drain(received) == [], "mail.received published while broken"
                store = LocalBlobStore(fault_stack.blob_dir)
                assert [raw for raw in refused if store.path_of(blob_ref(raw)).exists()] == []
                # where ingest writes these mails (the parser may be writing the earlier ones' parts)
                blob_dirs = {store.path_of(blob_ref(raw)).parent for raw in refused}
                assert [path for path in blob_dirs if half_written(path)] == []

                fault.mend()
                await asyncio.wait_for(asyncio.gather(*sources), timeout=60)
            finally:
                for task in sources:
                    task.cancel()

    failures = [
        line for line in fault_stack.log.getvalue().splitlines() if "blob store failed" in line
    ]
    # each refused mail at least twice: the single post above and the first retry
    assert len(failures) >= 2 * len(refused), failures
    assert all(fault.error in line for line in failures), failures  # the fault, not chance
    statuses = dict(await ingest_rows(fault_stack, refused_sha256s))
    assert statuses == dict.fromkeys(refused_sha256s, "published")

    report = await fault_stack.settled()
    # only once the pipeline is quiet: until then the parser may be writing parts
    assert half_written(fault_stack.blob_dir) == []
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0
