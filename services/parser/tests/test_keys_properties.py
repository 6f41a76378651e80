"""Classification, bounce, threading-key and enrichment rules never raise, whatever the text."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from postdesk_parser.bounce import read_bounce
from postdesk_parser.enrich import Enricher
from postdesk_parser.thread_keys import (
    decode_thread_index,
    find_ticket_tag,
    normalize_subject,
    plus_tokens,
)

PREFIXES = [
    "Re:",
    "Fwd:",
    "AW:",
    "WG:",
    "SV:",
    "Balas:",
    "回复\uff1a",
    "RE[2]:",
    "[EXTERNAL]",
    "[#12]",
    " ",
]


@dataclass(frozen=True)
class Part:
    content_type: str
    data: bytes


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_text_rules_never_raise(text: str) -> None:
    """Any text: the subject and enrichment rules answer without raising."""
    normalize_subject(text)
    find_ticket_tag(text)
    decode_thread_index(text)
    plus_tokens([text, f"{text}@x.example"])
    result = Enricher().enrich(text)
    assert result.sentiment in {None, "positive", "neutral", "negative"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PREFIXES), max_size=8), st.text(min_size=1).filter(str.strip))
def test_normalising_is_idempotent_over_prefixes(prefixes: list[str], rest: str) -> None:
    """Whatever run of prefixes comes first, normalising a normalised subject changes nothing."""
    once = normalize_subject("".join(prefixes) + rest)
    assert normalize_subject(once) == once


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=2000),
    st.sampled_from(["message/delivery-status", "message/rfc822", "text/rfc822-headers"]),
    st.text(max_size=500),
)
def test_bounce_reader_never_raises(data: bytes, content_type: str, text: str) -> None:
    """Any bytes in a report part, any notice text: a report or None, never an exception."""
    read_bounce([Part(content_type, data)], text, "mailer-daemon@mx.example")
    read_bounce([], "could not be delivered " + text, "postmaster@mx.example")
