"""Pure rules of the inbox: sort-bound cursors, tag edits, attachment headers."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from postdesk_contracts.api_inbox import MAX_TAGS, TagEdit
from postdesk_gateway.domain import InvalidCursorError, UnprocessableError
from postdesk_gateway.inbox_domain import (
    InboxCursor,
    attachment_disposition,
    decode_inbox_cursor,
    edited_tags,
    encode_inbox_cursor,
    served_content_type,
)


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("last_message_at", datetime(2025, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)),
        ("created_at", datetime(2024, 2, 29, tzinfo=UTC)),
        ("priority", 3),
        ("number", 1_000_000),
    ],
)
def test_cursor_round_trips_under_its_sort(sort: str, value: datetime | int) -> None:
    cursor = InboxCursor(sort, "asc", value, uuid.uuid4())
    assert decode_inbox_cursor(encode_inbox_cursor(cursor), sort=sort, direction="asc") == cursor


def test_cursor_of_another_sort_or_direction_is_refused() -> None:
    token = encode_inbox_cursor(InboxCursor("number", "desc", 5, uuid.uuid4()))
    with pytest.raises(InvalidCursorError):
        decode_inbox_cursor(token, sort="priority", direction="desc")
    with pytest.raises(InvalidCursorError):
        decode_inbox_cursor(token, sort="number", direction="asc")


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x" * 300,
        "not base64 !",
        _token({"s": "number", "d": "desc", "v": "5", "i": str(uuid.uuid4())}),
        _token({"s": "number", "d": "desc", "v": True, "i": str(uuid.uuid4())}),
        _token(
            {"s": "created_at", "d": "desc", "v": "2025-01-01T00:00:00", "i": str(uuid.uuid4())}
        ),
        _token({"s": "number", "d": "desc", "v": 5, "i": "nope"}),
        _token(["a list"]),
    ],
)
def test_anything_else_is_an_invalid_cursor(token: str) -> None:
    """Wrong value types, naive times, bad ids, other shapes: 400, never a 500."""
    with pytest.raises(InvalidCursorError):
        decode_inbox_cursor(token, sort="number", direction="desc")


def test_tags_set_add_remove() -> None:
    assert edited_tags(["a"], TagEdit(set=[" B ", "b", "C"])) == ["b", "c"]
    assert edited_tags(["a", "b"], TagEdit(add=["C", "a"], remove=["A"])) == ["b", "c"]
    assert edited_tags(["a"], TagEdit()) == ["a"]


@pytest.mark.parametrize(
    "edit",
    [TagEdit(add=[""]), TagEdit(add=["x" * 41]), TagEdit(add=[str(i) for i in range(MAX_TAGS)])],
)
def test_bad_tag_edits_are_unprocessable(edit: TagEdit) -> None:
    with pytest.raises(UnprocessableError):
        edited_tags(["existing"], edit)


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ("application/pdf", "application/pdf"),
        ("IMAGE/PNG; name=x.png", "image/png"),
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_only_allow_listed_types_are_served_as_themselves(stored: str, served: str) -> None:
    assert served_content_type(stored) == served


@pytest.mark.parametrize(
    "name", ['a"b.pdf', "Größe 100%.xlsx", "x\r\nSet-Cookie: y.txt", "日本.png"]
)
def test_disposition_is_an_attachment_with_a_safe_fallback(name: str) -> None:
    """RFC 6266: the quoted fallback holds no quote, no control character, nothing
    non-ASCII; filename* carries the real name, percent-encoded."""
    value = attachment_disposition(name)
    assert value.startswith('attachment; filename="')
    fallback, _, extended = value.removeprefix('attachment; filename="').partition('"; ')
    assert all(32 <= ord(c) < 127 and c not in '"\\' for c in fallback)
    assert extended.startswith("filename*=UTF-8''")
    assert unquote(extended.removeprefix("filename*=UTF-8''")) == name
    assert "\r" not in value
    assert "\n" not in value
