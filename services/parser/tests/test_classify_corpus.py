"""The classification corpus: every message gives the expected kind, bounce report and keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from postdesk_parser.domain import parse_mail

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "classify"
MESSAGES = sorted(CORPUS.glob("*.eml"))


def test_corpus_is_there() -> None:
    """The corpus has its messages and an expected file for each."""
    assert len(MESSAGES) >= 6
    assert all(path.with_suffix(".expected.json").exists() for path in MESSAGES)


@pytest.mark.parametrize("path", MESSAGES, ids=lambda path: path.stem)
def test_expected_outputs(path: Path) -> None:
    """Kind, Auto-Submitted, bounce report, normalised subject, ticket tag and language match."""
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    parsed = parse_mail(path.read_bytes())
    actual = {
        "classification": {
            "kind": parsed.classification.kind.value,
            "auto_submitted": parsed.classification.auto_submitted,
        },
        "bounce": parsed.bounce.model_dump(mode="json") if parsed.bounce else None,
        "normalized_subject": parsed.normalized_subject,
        "ticket_tag": parsed.ticket_tag,
        "language": parsed.language,
    }
    assert actual == expected
