"""Mail bombs through the running pipeline (tests/security/pipeline.py): each hostile mail
posted to ingest's signed webhook, one after the other, then an ordinary mail.

| bomb | pass |
| --- | --- |
| 10,000 nested multiparts | parsed within `BOUND_SECONDS`, `max_depth` recorded in the parser's processing-log row, a ticket |
| 10,000 parts | parsed in time, `max_parts` recorded, a ticket |
| base64 attachments decoding to 3 MiB past a 2 MiB decoded-size limit | parsed in time, `max_decoded_bytes` recorded, a ticket |
| a zip bomb attachment (64 KiB deflating to 64 MiB, a layer of 42.zip) | parsed in time, kept as one opaque attachment of its own size (never unpacked), a ticket |
| 10,000 header fields before From | rejected in time, the row naming `max_headers`; no ticket |
| a 1 MiB header line | parsed in time, `max_header_line` recorded, a ticket |
| reply-extraction backtracking: lines of 20,000 spaces and a letter under a "From:" line (quadratic in the Outlook header-block patterns of `postdesk_parser._reply_rules`: minutes per line before the fix) | parsed in time, a ticket |
| all of them | the parser's peak RSS stays under `MAX_PARSER_RSS_MIB`; an ordinary mail posted after them still becomes a ticket |
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from postdesk_ingest.domain import signature_headers
from postdesk_testing import eventually

from tests.faults.stack import MAILBOX, SECRET, FaultStack
from tests.security.pipeline import DECODED_LIMIT, arrived, processing_rows

pytestmark = pytest.mark.e2e

# the parser's own budget is 5 s; the rest is queueing, storage and a loaded machine
BOUND_SECONDS = 10.0
MAX_PARSER_RSS_MIB = 400
ZIP_INFLATED = 64 * 1024 * 1024


def head(marker: str, content_type: str = "text/plain; charset=utf-8") -> bytes:
    return (
        f"From: Mallory <mallory-{marker}@attacker.example>\r\n"
        "To: cs@acme.example\r\n"
        f"Subject: bomb {marker}\r\n"
        f"Message-ID: <{marker}@attacker.example>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
    ).encode()


def multipart(marker: str, parts: list[bytes]) -> bytes:
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts) + b"--b--\r\n"
    return head(marker, 'multipart/mixed; boundary="b"') + b"\r\n" + body


def nesting_bomb(marker: str) -> bytes:
    depth = 10_000
    opening = b"".join(
        f'--n{i}\r\nContent-Type: multipart/mixed; boundary="n{i + 1}"\r\n\r\n'.encode()
        for i in range(depth)
    )
    closing = b"".join(f"--n{i}--\r\n".encode() for i in reversed(range(depth)))
    return (
        head(marker, 'multipart/mixed; boundary="n0"')
        + b"\r\n"
        + opening
        + f"--n{depth}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n--n{depth}--\r\n".encode()
        + closing
    )


def part_bomb(marker: str) -> bytes:
    return multipart(
        marker,
        [b"Content-Type: text/plain\r\n\r\nfirst"]
        + [b"Content-Type: application/octet-stream\r\n\r\nx"] * 10_000,
    )


def attachment(filename: str, data: bytes, content_type: str) -> bytes:
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (
        f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
    ).encode() + encoded


def base64_bomb(marker: str) -> bytes:
    blob = b"\x00" * (DECODED_LIMIT // 2)
    return multipart(
        marker,
        [b"Content-Type: text/plain\r\n\r\nsee attached"]
        + [attachment(f"part{i}.bin", blob, "application/octet-stream") for i in range(6)],
    )


def zip_bomb_bytes() -> bytes:
    """One layer of 42.zip: a small archive whose entries inflate to `ZIP_INFLATED` zeros."""
    buffer = io.BytesIO()
    chunk = b"\x00" * (1024 * 1024)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in range(4):
            with archive.open(f"lib{entry}.bin", "w") as member:
                for _ in range(ZIP_INFLATED // len(chunk) // 4):
                    member.write(chunk)
    return buffer.getvalue()


ZIP_BOMB = zip_bomb_bytes()


def zip_bomb(marker: str) -> bytes:
    return multipart(
        marker,
        [
            b"Content-Type: text/plain\r\n\r\nthe invoice",
            attachment("invoice.zip", ZIP_BOMB, "application/zip"),
        ],
    )


def header_count_bomb(marker: str) -> bytes:
    junk = b"".join(f"X-Junk-{i}: a\r\n".encode() for i in range(10_000))
    return junk + head(marker) + b"\r\nbody\r\n"


def header_line_bomb(marker: str) -> bytes:
    return head(marker) + b"X-Long: " + b"a" * (1024 * 1024) + b"\r\n\r\nbody\r\n"


def backtracking_bomb(marker: str) -> bytes:
    hostile = "\r\n".join(["Thanks, see below.", "From: x", *[" " * 20_000 + "x"] * 3])
    return head(marker) + b"\r\n" + hostile.encode() + b"\r\n"


# name -> (builder, parser status, limit recorded)
BOMBS: dict[str, tuple[Callable[[str], bytes], str, str | None]] = {
    "nesting": (nesting_bomb, "parsed", "max_depth"),
    "parts": (part_bomb, "parsed", "max_parts"),
    "base64": (base64_bomb, "parsed", "max_decoded_bytes"),
    "zip": (zip_bomb, "parsed", None),
    "header-count": (header_count_bomb, "rejected", "max_headers"),
    "header-line": (header_line_bomb, "parsed", "max_header_line"),
    "backtracking": (backtracking_bomb, "parsed", None),
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def deliver(pipeline: FaultStack, client: httpx.AsyncClient, raw: bytes) -> str:
    """Post `raw` to ingest's webhook (not `FaultStack.post`: it parses the mail with the
    standard library, whose recursion a nesting bomb exhausts)."""
    response = await client.post(
        f"{pipeline.ingest_url}/webhooks/raw",
        content=raw,
        params={"rcpt": MAILBOX},
        headers={"Content-Type": "message/rfc822", **signature_headers(SECRET, raw)},
    )
    assert response.status_code == 202, response.text
    return hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("bomb", BOMBS)
async def test_bomb_is_handled_in_bounded_time(
    pipeline: FaultStack, client: httpx.AsyncClient, bomb: str
) -> None:
    """Parsed (or rejected) within the bound, the limit it hit recorded, a ticket when parsed."""
    build, status, limit = BOMBS[bomb]
    marker = f"{bomb}-{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    sha = await deliver(pipeline, client, build(marker))

    async def parser_row() -> tuple[str, str] | None:
        return (await processing_rows(pipeline, sha)).get("parser")

    parsed_as = await eventually(parser_row, within=BOUND_SECONDS, interval=0.1)
    elapsed = time.monotonic() - started
    assert parsed_as[0] == status, parsed_as
    assert elapsed < BOUND_SECONDS
    if limit is not None:
        assert limit in parsed_as[1], parsed_as
    if status == "parsed":
        assert await eventually(arrived(pipeline, marker), within=30, interval=0.25)
    else:
        assert await arrived(pipeline, marker)() is None


async def test_zip_bomb_is_kept_packed(pipeline: FaultStack, client: httpx.AsyncClient) -> None:
    """The zip is stored as the one opaque attachment it is, never inflated."""
    marker = f"zip-kept-{uuid.uuid4().hex[:12]}"
    await deliver(pipeline, client, zip_bomb(marker))
    await eventually(arrived(pipeline, marker), within=30, interval=0.25)

    async def sizes() -> list[int] | None:
        async with pipeline.engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT a.size FROM attachments a JOIN messages m ON m.id = a.message_id "
                    "WHERE strpos(m.subject, :marker) > 0"
                ),
                {"marker": marker},
            )
            return [row[0] for row in rows] or None

    assert await eventually(sizes, within=30, interval=0.25) == [len(ZIP_BOMB)]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_pipeline_flows_after_the_bombs(
    pipeline: FaultStack, client: httpx.AsyncClient
) -> None:
    """After every bomb: the parser's peak memory stayed bounded and ordinary mail gets through."""
    for bomb, (build, _, _) in BOMBS.items():  # again, so this test holds when run alone
        await deliver(pipeline, client, build(f"again-{bomb}-{uuid.uuid4().hex[:12]}"))
    marker = f"normal-{uuid.uuid4().hex[:12]}"
    await deliver(pipeline, client, head(marker) + b"\r\nMy order is late.\r\n")
    [message] = await eventually(arrived(pipeline, marker), within=60, interval=0.25)
    assert message.direction == "inbound"
    parser = pipeline.supervisor.processes["parser"].process
    assert parser.poll() is None, "the parser died"
    assert peak_rss_mib(parser.pid) < MAX_PARSER_RSS_MIB
