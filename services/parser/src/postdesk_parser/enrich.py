"""Enrichment of the new text: its language and sentiment, behind two small protocols.

A better model replaces a default by implementing the protocol and passing
an `Enricher(detector=..., scorer=...)` to `parse_mail`; nothing else
changes. Defaults (documented in their modules, measured in
docs/benchmarks.md under "Parser: enrichment"):
- `StopwordLanguageDetector` (language.py): script + weighted stopwords,
  en id de fr es pt nl ja zh ru;
- `LexiconSentimentScorer` (sentiment.py): English and Indonesian lexicon
  with negation, intensifiers and contrast.
Both are pure and cheap (microseconds a message) and return None when they
cannot tell; an enricher never raises on any text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from postdesk_parser.language import StopwordLanguageDetector
from postdesk_parser.sentiment import LexiconSentimentScorer

__all__ = [
    "DEFAULT_ENRICHER",
    "Enricher",
    "Enrichment",
    "LanguageDetector",
    "LexiconSentimentScorer",
    "SentimentScorer",
    "StopwordLanguageDetector",
]


class LanguageDetector(Protocol):
    """Detects the language of a text: an ISO 639-1 code, or None when unsure."""

    def detect(self, text: str) -> str | None: ...


class SentimentScorer(Protocol):
    """Scores a text "positive", "neutral" or "negative"; None when it cannot for that language."""

    def score(self, text: str, language: str | None) -> str | None: ...


@dataclass(frozen=True)
class Enrichment:
    language: str | None = None
    sentiment: str | None = None


@dataclass(frozen=True)
class Enricher:
    """Runs a language detector, then a sentiment scorer told the language found."""

    detector: LanguageDetector = field(default_factory=StopwordLanguageDetector)
    scorer: SentimentScorer = field(default_factory=LexiconSentimentScorer)

    def enrich(self, text: str | None) -> Enrichment:
        if not text or not text.strip():
            return Enrichment()
        language = self.detector.detect(text)
        return Enrichment(language=language, sentiment=self.scorer.score(text, language))


DEFAULT_ENRICHER = Enricher()
