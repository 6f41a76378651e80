"""Pure rules: page cursors, reply headers and ticket changes."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from postdesk_gateway.domain import (
    MAX_REFERENCES,
    FieldChange,
    InvalidCursorError,
    TicketCursor,
    decode_cursor,
    encode_cursor,
    field_changes,
    reply_references,
    reply_subject,
)


def test_cursor_round_trips_exactly() -> None:
    """Decoding an encoded cursor gives back the same timestamp (to the microsecond) and id."""
    cursor = TicketCursor(datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC), uuid.uuid4())
    assert decode_cursor(encode_cursor(cursor)) == cursor


def test_cursor_keeps_the_offset_of_aware_timestamps() -> None:
    """A non-UTC timestamp decodes to the same instant."""
    when = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    decoded = decode_cursor(encode_cursor(TicketCursor(when, uuid.uuid4())))
    assert decoded.last_message_at == when


def test_cursor_is_url_safe_and_unpadded() -> None:
    """The cursor can go into a query string as it is."""
    token = encode_cursor(TicketCursor(datetime.now(UTC), uuid.uuid4()))
    assert "=" not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"t": "2025-01-01T00:00:00+00:00"}').decode(),
        base64.urlsafe_b64encode(
            b'{"t": "yesterday", "i": "' + str(uuid.uuid4()).encode() + b'"}'
        ).decode(),
        base64.urlsafe_b64encode(b'{"t": "2025-01-01T00:00:00+00:00", "i": "nope"}').decode(),
        base64.urlsafe_b64encode(
            b'{"t": "2025-01-01T00:00:00", "i": "' + str(uuid.uuid4()).encode() + b'"}'
        ).decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        "A" * 1000,
    ],
)
def test_cursor_rejects_anything_it_did_not_issue(token: str) -> None:
    """Malformed, incomplete, naive-timestamp or oversized cursors raise InvalidCursorError."""
    with pytest.raises(InvalidCursorError):
        decode_cursor(token)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Invoice 42", "Re: Invoice 42"),
        ("Re: Invoice 42", "Re: Invoice 42"),
        ("RE: Invoice 42", "RE: Invoice 42"),
        ("re : Invoice", "re : Invoice"),
        ("  Invoice\r\n\tfolded ", "Re: Invoice folded"),
        ("Regarding the invoice", "Re: Regarding the invoice"),
        ("", "Re:"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    """Re: is added once, never doubled, and line breaks cannot survive into the header."""
    assert reply_subject(subject) == expected


def test_reply_references_append_the_parent_once() -> None:
    """The parent's references come first, then the parent; duplicates are dropped."""
    assert reply_references("c@x", ["a@x", "b@x", "a@x"]) == ["a@x", "b@x", "c@x"]
    assert reply_references("c@x", ["a@x", "c@x"]) == ["a@x", "c@x"]


def test_long_reference_chains_keep_root_and_latest() -> None:
    """A long chain is cut to MAX_REFERENCES, keeping the thread root and the newest ids."""
    chain = [f"m{i}@x" for i in range(50)]
    refs = reply_references("parent@x", chain)
    assert len(refs) == MAX_REFERENCES
    assert refs[0] == "m0@x"
    assert refs[-1] == "parent@x"
    assert refs[-2] == "m49@x"


def test_field_changes_lists_only_real_changes() -> None:
    """Fields left out (None) or asked for with their current value are no change."""
    current = {"status": "open", "priority": "normal"}
    assert field_changes(current, {"status": None, "priority": None}) == []
    assert field_changes(current, {"status": "open", "priority": "normal"}) == []
    assert field_changes(current, {"status": "closed", "priority": "normal"}) == [
        FieldChange("status", "open", "closed")
    ]
    assert field_changes(current, {"status": "pending", "priority": "high"}) == [
        FieldChange("status", "open", "pending"),
        FieldChange("priority", "normal", "high"),
    ]
