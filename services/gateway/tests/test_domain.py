"""Pure rules: page cursors, reply headers, idempotency keys, send times, quotas, ticket changes."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from postdesk_gateway.domain import (
    MAX_REFERENCES,
    MAX_SCHEDULE_AHEAD,
    FieldChange,
    InvalidCursorError,
    InvalidRequestError,
    KeyCursor,
    decode_key,
    encode_key,
    field_changes,
    header_text,
    outbound_id_for,
    quota_problem,
    reply_subject,
    scheduled_send,
    thread_references,
)
from postdesk_smtp.quota import QuotaBlock


def test_cursor_round_trips_exactly() -> None:
    """Decoding an encoded cursor gives back the same timestamp (to the microsecond) and id."""
    cursor = KeyCursor(datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC), uuid.uuid4())
    assert decode_key(encode_key(cursor)) == cursor


def test_cursor_keeps_the_offset_of_aware_timestamps() -> None:
    """A non-UTC timestamp decodes to the same instant."""
    when = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    decoded = decode_key(encode_key(KeyCursor(when, uuid.uuid4())))
    assert decoded.at == when


def test_cursor_is_url_safe_and_unpadded() -> None:
    """The cursor can go into a query string as it is."""
    token = encode_key(KeyCursor(datetime.now(UTC), uuid.uuid4()))
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
        decode_key(token)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Invoice 42", "Re: Invoice 42"),
        ("Re: Invoice 42", "Re: Invoice 42"),
        ("RE: Invoice 42", "RE: Invoice 42"),
        ("re : Invoice", "re : Invoice"),
        ("  Invoice\r\n\tfolded ", "Re: Invoice folded"),
        ("Invoice\x07\x85 42", "Re: Invoice 42"),
        ("Regarding the invoice", "Re: Regarding the invoice"),
        ("", "Re:"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    """Re: is added once, never doubled, and line breaks cannot survive into the header."""
    assert reply_subject(subject) == expected


def test_thread_references_are_the_thread_oldest_first() -> None:
    """The parent's older references first, then the ticket's messages; each id once."""
    thread = ["a@x", "b@x", "out@acme", "c@x"]
    assert thread_references(thread) == ["a@x", "b@x", "out@acme", "c@x"]
    assert thread_references(thread, parent_references=["root@y", "a@x"]) == [
        "root@y",
        "a@x",
        "b@x",
        "out@acme",
        "c@x",
    ]
    assert thread_references([]) == []


def test_values_that_are_not_message_ids_stay_out_of_references() -> None:
    thread = ["a@x", "", "no-at-sign", "two words@x", "<b@x>", "c@x\r\nX: y", "d@x\x85", "e@x"]
    assert thread_references(thread) == ["a@x", "e@x"]


def test_long_reference_chains_keep_root_and_latest() -> None:
    """A long chain is cut to MAX_REFERENCES, keeping the thread root and the newest ids."""
    chain = [f"m{i}@x" for i in range(50)]
    refs = thread_references(chain)
    assert len(refs) == MAX_REFERENCES
    assert refs[0] == "m0@x"
    assert refs[1] == "m31@x"
    assert refs[-1] == "m49@x"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Carol\r\nBcc: x@y", "Carol Bcc: x@y"), ("A\x00B\x85C\u2028D", "A B C D"), ("  ", "")],
)
def test_header_text_has_no_control_characters(value: str, expected: str) -> None:
    assert header_text(value) == expected


def test_outbound_id_for_a_key_is_stable_per_user() -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    assert outbound_id_for(user, "k-1") == outbound_id_for(user, "k-1")
    assert outbound_id_for(user, "k-1") != outbound_id_for(user, "k-2")
    assert outbound_id_for(user, "k-1") != outbound_id_for(other, "k-1")


@pytest.mark.parametrize("key", ["", "a b", "x" * 256, "tab\t", "ünï"])
def test_unusable_idempotency_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidRequestError, match="Idempotency-Key"):
        outbound_id_for(uuid.uuid4(), key)


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_scheduled_send_must_be_ahead_but_not_too_far() -> None:
    assert scheduled_send(None, NOW) is None
    soon = NOW + timedelta(minutes=5)
    assert scheduled_send(soon, NOW) == soon
    assert scheduled_send(NOW + MAX_SCHEDULE_AHEAD, NOW) == NOW + MAX_SCHEDULE_AHEAD
    with pytest.raises(InvalidRequestError, match="future"):
        scheduled_send(NOW, NOW)
    with pytest.raises(InvalidRequestError, match="future"):
        scheduled_send(NOW - timedelta(seconds=1), NOW)
    with pytest.raises(InvalidRequestError, match="30 days"):
        scheduled_send(NOW + MAX_SCHEDULE_AHEAD + timedelta(seconds=1), NOW)


def test_a_quota_problem_says_which_and_when() -> None:
    block = QuotaBlock("per_user_per_day", 500, timedelta(hours=24), NOW + timedelta(minutes=90))
    problem = quota_problem(block, NOW)
    assert "per_user_per_day" in str(problem)
    assert "500 mails per 24 hours" in str(problem)
    assert "2025-06-01T13:30:00+00:00" in str(problem)
    assert problem.retry_after == 90 * 60
    minute = QuotaBlock("per_tenant_per_minute", 3, timedelta(minutes=1), NOW)
    assert "per minute" in str(quota_problem(minute, NOW))
    assert quota_problem(minute, NOW).retry_after == 1


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
