"""`postdesk parse FILE... | -`: each message parsed, as one JSON object per line, in order.

Uses the parser's pure domain function (`postdesk_parser.domain.parse_mail`):
no broker, no database, no blob store. A directory argument stands for the
files under it (sorted, recursively). A file that cannot be read or parsed
gives a line {"file", "error"} and the rest go on; the exit status is then 1.
The fields are documented in docs/parse-command.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from postdesk_contracts.events import Address
from postdesk_parser.domain import ParsedMail, UnparseableMailError, parse_mail
from postdesk_parser.thread_keys import decode_thread_index

STDIN = "-"


def add_parse_command(commands: Any) -> None:
    """Register `parse` on the CLI's subcommands (an argparse `_SubParsersAction`)."""
    parse = commands.add_parser(
        "parse",
        help="parse messages (files, directories or - for stdin) to JSON lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help="a message file, a directory, or -")


def run_parse(args: argparse.Namespace) -> int:
    """Print one JSON line per message; 1 if any message gave an error line, else 0."""
    return parse_to(args.files, sys.stdin.buffer, sys.stdout)


def parse_to(paths: list[str], stdin: IO[bytes], out: IO[str]) -> int:
    status = 0
    try:
        for name, raw in _inputs(paths, stdin):
            record = message_record(name, raw) if isinstance(raw, bytes) else _error(name, raw)
            status |= "error" in record
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as other line tools do
        return status
    return status


def _inputs(paths: list[str], stdin: IO[bytes]) -> Iterator[tuple[str, bytes | str]]:
    """(name, bytes) per message, or (name, reason) when it cannot be read."""
    for name in paths:
        if name == STDIN:
            yield name, stdin.read()
            continue
        path = Path(name)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                yield str(file), file.read_bytes()
            except OSError as error:
                yield str(file), f"cannot read: {error.strerror or error}"


def _error(name: str, reason: str) -> dict[str, Any]:
    return {"file": name, "error": reason}


def message_record(name: str, raw: bytes) -> dict[str, Any]:
    """The JSON object for one message, or {"file", "error"} when it cannot be parsed."""
    try:
        parsed = parse_mail(raw)
    except UnparseableMailError as error:
        return _error(name, str(error))
    except (
        Exception
    ) as error:  # as in the parser service: any crash on these bytes is malformed input
        return _error(name, f"parser failed: {type(error).__name__}: {error}")
    return _record(name, parsed)


def _record(name: str, parsed: ParsedMail) -> dict[str, Any]:
    thread = decode_thread_index(parsed.thread_index)
    return {
        "file": name,
        "from": _address(parsed.from_),
        "to": [_address(a) for a in parsed.to],
        "cc": [_address(a) for a in parsed.cc],
        "reply_to": [_address(a) for a in parsed.reply_to],
        "subject": parsed.subject,
        "date": parsed.date.isoformat() if parsed.date else None,
        "message_id": parsed.message_id,
        "message_id_synthesised": parsed.message_id_synthesised,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "normalized_subject": parsed.normalized_subject,
        "ticket_tag": parsed.ticket_tag,
        "thread_index": parsed.thread_index,
        "thread_root": thread.root if thread else None,
        "plus_tokens": parsed.plus_tokens,
        "text": parsed.text or "",
        # ParsedMail.html is the sanitised HTML (remote images blocked, cid: mapped)
        "html": parsed.html or "",
        "reply_text": parsed.reply_text,
        "signature": parsed.signature,
        "classification": parsed.classification.model_dump(mode="json"),
        "bounce": parsed.bounce.model_dump(mode="json") if parsed.bounce else None,
        "language": parsed.language,
        "sentiment": parsed.sentiment,
        "attachments": [
            {
                "filename": part.filename,
                "content_type": part.content_type,
                "size": len(part.data),
                "sha256": part.sha256 or hashlib.sha256(part.data).hexdigest(),
                "inline": part.inline,
            }
            for part in parsed.attachments
        ],
        "has_calendar": parsed.has_calendar,
        "limits_hit": list(parsed.limits_hit),
    }


def _address(address: Address | None) -> dict[str, str] | None:
    return {"name": address.name, "email": address.email} if address else None
