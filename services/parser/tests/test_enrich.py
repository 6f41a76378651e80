"""Enrichment: language and sentiment defaults, and the pluggable protocols."""

from __future__ import annotations

from pathlib import Path

import pytest
from postdesk_parser.domain import parse_mail
from postdesk_parser.enrich import Enricher, LexiconSentimentScorer, StopwordLanguageDetector

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "enrichment"


class TestLanguage:
    @pytest.mark.parametrize(
        ("text", "language"),
        [
            ("Hello, my order has not arrived yet. Could you check it please?", "en"),
            ("Halo kak, pesanan saya belum sampai sampai sekarang. Mohon dicek ya.", "id"),
            ("Meine Bestellung ist leider noch nicht angekommen.", "de"),
            ("Ma commande n'est toujours pas arrivée, merci de vérifier.", "fr"),
            ("Mi pedido todavía no ha llegado, ¿me pueden ayudar?", "es"),
            ("Meu pedido ainda não chegou, vocês podem verificar?", "pt"),
            ("Mijn bestelling is nog steeds niet aangekomen.", "nl"),
            ("注文した商品がまだ届いていません。", "ja"),
            ("我的订单到现在还没有收到。", "zh"),
            ("Мой заказ до сих пор не пришёл.", "ru"),
        ],
    )
    def test_languages(self, text: str, language: str) -> None:
        """Each of the ten languages is recognised on a one-line support message."""
        assert StopwordLanguageDetector().detect(text) == language

    @pytest.mark.parametrize("text", ["", "12345 !!!", "ok", "Xyzzy plugh"])
    def test_unsure_gives_none(self, text: str) -> None:
        """No letters, or no evidence, gives None rather than a guess."""
        assert StopwordLanguageDetector().detect(text) is None

    def test_sample_accuracy_floor(self) -> None:
        """On the labelled sample, English and Indonesian are detected at 95% or better."""
        detector = StopwordLanguageDetector()
        for language in ("en", "id"):
            lines = (CORPUS / f"{language}.txt").read_text(encoding="utf-8").splitlines()
            texts = [line.split("\t", 1)[1] for line in lines if line.strip()]
            right = sum(detector.detect(text) == language for text in texts)
            assert len(texts) >= 100
            assert right / len(texts) >= 0.95


class TestSentiment:
    @pytest.mark.parametrize(
        ("text", "language", "sentiment"),
        [
            ("Thank you so much, everything works perfectly!", "en", "positive"),
            ("The charger is broken and the refund never came.", "en", "negative"),
            ("Could you send me a copy of the invoice?", "en", "neutral"),
            ("My parcel hasn't arrived.", "en", "negative"),
            ("It is not good at all.", "en", "negative"),
            ("No problem.", "en", "neutral"),
            ("Not bad. Very good in fact!", "en", "positive"),
            ("The app was great, but now it keeps crashing and nothing works.", "en", "negative"),
            ("Terima kasih, pelayanannya sangat bagus dan cepat!", "id", "positive"),
            ("Pesanan saya belum sampai, kecewa banget.", "id", "negative"),
            ("Barangnya tidak bagus.", "id", "negative"),
            ("Kapan promo berikutnya?", "id", "neutral"),
        ],
    )
    def test_lexicon_with_negation(self, text: str, language: str, sentiment: str) -> None:
        """Lexicon words, negation within the clause, intensifiers and contrast decide the label."""
        assert LexiconSentimentScorer().score(text, language) == sentiment

    def test_negation_does_not_cross_sentences(self) -> None:
        """A negator in one sentence does not flip a word in the next."""
        assert (
            LexiconSentimentScorer().score("It was not sent. Terrible service.", "en") == "negative"
        )

    def test_languages_without_lexicon_give_none(self) -> None:
        """Sentiment is None for languages without a lexicon, and for unknown language."""
        assert LexiconSentimentScorer().score("Merci beaucoup, c'est parfait", "fr") is None
        assert LexiconSentimentScorer().score("great", None) is None


class _Fixed:
    def detect(self, text: str) -> str | None:
        return "xx"

    def score(self, text: str, language: str | None) -> str | None:
        return f"scored-{language}"


class TestPluggable:
    def test_parse_mail_uses_the_given_enricher(self) -> None:
        """A replacement detector and scorer plug in through Enricher; the scorer gets the language."""
        raw = b"From: a@b.example\r\nSubject: x\r\n\r\nHello there, thanks!\r\n"
        parsed = parse_mail(raw, enricher=Enricher(detector=_Fixed(), scorer=_Fixed()))
        assert (parsed.language, parsed.sentiment) == ("xx", "scored-xx")

    def test_default_runs_on_the_new_text(self) -> None:
        """The default enrichment judges the reply, not the quoted history under it."""
        raw = (
            b"From: a@b.example\r\nSubject: Re: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Terima kasih banyak, sudah beres dan cepat sekali!\r\n\r\n"
            b"On Mon, 4 Mar 2024 at 10:00, Support <cs@acme.example> wrote:\r\n"
            b"> We are sorry the parcel is broken and late. The refund failed, terrible.\r\n"
        )
        parsed = parse_mail(raw)
        assert (parsed.language, parsed.sentiment) == ("id", "positive")

    def test_empty_text_gives_nothing(self) -> None:
        """No text, no enrichment."""
        assert Enricher().enrich("  ") == Enricher().enrich(None)
        assert Enricher().enrich(None).language is None
