"""`postdesk parse` as a user runs it: the real console script on files, a directory and stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "classify"
FIELDS = {
    "from", "to", "cc", "reply_to", "subject", "date", "message_id", "in_reply_to", "references",
    "normalized_subject", "ticket_tag", "text", "html", "reply_text", "signature", "classification",
    "bounce", "language", "sentiment", "attachments", "limits_hit", "thread_index", "thread_root",
}  # fmt: skip

REPLY = (
    b"From: Budi <Budi@Pelanggan.example>\r\n"
    b"To: ACME CS <reply+tok9@acme.example>\r\n"
    b"Cc: rina@pelanggan.example\r\n"
    b"Reply-To: budi.kerja@pelanggan.example\r\n"
    b"Subject: Balas: [#1234] Pesanan saya\r\n"
    b"Date: Mon, 04 Mar 2024 09:40:44 +0700\r\n"
    b"Message-ID: <balas-1@pelanggan.example>\r\n"
    b"In-Reply-To: <ticket-1234@acme.example>\r\n"
    b"References: <ticket-1234@acme.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Pesanan saya belum sampai, kecewa sekali.</p><script>alert(1)</script>"
    b'<img src="https://tracker.example/p.gif">\r\n'
    b"--b\r\n"
    b'Content-Type: application/pdf; name="faktur.pdf"\r\n'
    b'Content-Disposition: attachment; filename="faktur.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--b--\r\n"
)


def run_parse(*args: str, stdin: bytes = b"") -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(  # our own console script, fixed arguments
        [str(Path(sys.executable).parent / "postdesk"), "parse", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    lines = result.stdout.decode("utf-8").splitlines()
    return result.returncode, [json.loads(line) for line in lines]


def test_files_in_order_with_all_fields(tmp_path: Path) -> None:
    """Each file gives one JSON line with every documented field, in argument order."""
    reply = tmp_path / "reply.eml"
    reply.write_bytes(REPLY)
    code, records = run_parse(str(reply), str(CORPUS / "postfix-dsn.eml"))
    assert code == 0
    assert [r["file"] for r in records] == [str(reply), str(CORPUS / "postfix-dsn.eml")]
    first, bounce = records
    assert set(first) >= FIELDS
    assert first["from"] == {"name": "Budi", "email": "budi@pelanggan.example"}
    assert first["to"] == [{"name": "ACME CS", "email": "reply+tok9@acme.example"}]
    assert first["reply_to"][0]["email"] == "budi.kerja@pelanggan.example"
    assert first["date"] == "2024-03-04T09:40:44+07:00"
    assert first["message_id"] == "balas-1@pelanggan.example"
    assert first["in_reply_to"] == first["references"] == ["ticket-1234@acme.example"]
    assert (first["normalized_subject"], first["ticket_tag"]) == ("pesanan saya", "1234")
    assert first["plus_tokens"] == ["tok9"]
    assert "belum sampai" in first["text"]
    assert "<script" not in first["html"]
    assert ' src="https://tracker.example' not in first["html"]  # remote image blocked
    assert (first["language"], first["sentiment"]) == ("id", "negative")
    assert first["classification"]["kind"] == "human"
    assert first["bounce"] is None
    [pdf] = first["attachments"]
    assert pdf["filename"] == "faktur.pdf"
    assert pdf["content_type"] == "application/pdf"
    assert pdf["size"] == len(b"%PDF-1.4\n")
    assert len(pdf["sha256"]) == 64
    assert pdf["inline"] is False
    assert bounce["classification"]["kind"] == "bounce"
    assert bounce["bounce"]["failed_recipients"] == ["nobody@customer.example"]
    assert bounce["bounce"]["status"] == "5.1.1"
    assert bounce["bounce"]["original_message_id"] == "ticket-1234.reply-7@acme.example"


def test_stdin_and_errors_do_not_stop_the_run(tmp_path: Path) -> None:
    """'-' reads stdin; unreadable and unparseable inputs give error lines, the rest go on, exit 1."""
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x00\x01 not a message at all")
    code, records = run_parse(str(junk), str(tmp_path / "missing.eml"), "-", stdin=REPLY)
    assert code == 1
    assert [r["file"] for r in records] == [str(junk), str(tmp_path / "missing.eml"), "-"]
    assert "error" in records[0]
    assert "error" in records[1]
    assert "error" not in records[2]
    assert records[2]["message_id"] == "balas-1@pelanggan.example"


def test_directory_is_expanded_sorted(tmp_path: Path) -> None:
    """A directory stands for its files, sorted, recursively; every corpus message parses."""
    messages = sorted(CORPUS.glob("*.eml"))
    for index, path in enumerate(messages):
        target = tmp_path / ("nested" if index % 2 else "") / path.name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(path.read_bytes())
    code, records = run_parse(str(tmp_path))
    assert code == 0
    assert [r["file"] for r in records] == sorted(str(p) for p in tmp_path.rglob("*.eml"))
    kinds = {Path(r["file"]).stem: r["classification"]["kind"] for r in records}
    assert len(kinds) == len(messages)
    assert kinds["spam-rspamd"] == "spam"
    assert kinds["list"] == "list"
    assert kinds["vacation-indonesian"] == "auto_reply"
    assert kinds["qmail-nonstandard"] == "bounce"


def test_thread_root_from_outlook_thread_index() -> None:
    """An Outlook Thread-Index (header block plus one reply block) gives its conversation GUID as hex."""
    outlook = REPLY.replace(
        b"MIME-Version: 1.0\r\n",
        b"Thread-Index: AdNZb8kOcSQ1jVuCTFKrfQM7HD2/tQAAobLD\r\nMIME-Version: 1.0\r\n",
    )
    code, [record] = run_parse("-", stdin=outlook)
    assert code == 0
    assert record["thread_index"] == "AdNZb8kOcSQ1jVuCTFKrfQM7HD2/tQAAobLD"
    assert record["thread_root"] == "7124358d5b824c52ab7d033b1c3dbfb5"
    assert run_parse("-", stdin=REPLY)[1][0]["thread_root"] is None
