"""Reply extraction: the labelled corpus case by case, and the rules one by one."""

# ruff: noqa: RUF001  # the text is deliberately in Chinese, Japanese and Russian: their letters and full-width punctuation are the point

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postdesk_parser.domain import parse_mail
from postdesk_parser.reply import ReplySplit, split_reply

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "replies"
CASES = sorted(CORPUS.glob("*.eml"))
GMAIL_ATTRIBUTION = "On Tue, Mar 5, 2024 at 10:00 AM Acme Support <support@acme.example> wrote:"


def _normalise(text: str) -> str:
    return " ".join(text.split())


def test_corpus_is_large_enough() -> None:
    """The labelled corpus holds at least 120 cases, each with its expected text."""
    assert len(CASES) >= 120
    assert all(case.with_suffix(".expected.txt").exists() for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_corpus_case(case: Path) -> None:
    """The parser's reply_text equals the labelled new text (whitespace normalised)."""
    parsed = parse_mail(case.read_bytes())
    expected = case.with_suffix(".expected.txt").read_text(encoding="utf-8")
    assert _normalise(parsed.reply_text) == _normalise(expected)


def test_parsed_mail_carries_reply_and_preview() -> None:
    """parse_mail fills reply_text and signature, and the preview shows only the new text."""
    raw = (
        "From: A <a@example.com>\r\nTo: s@acme.example\r\nSubject: Re: x\r\n\r\n"
        f"Still broken.\r\n\r\n-- \r\nA\r\n\r\n{GMAIL_ATTRIBUTION}\r\n> try again\r\n"
    ).encode()
    parsed = parse_mail(raw)
    assert (parsed.reply_text, parsed.signature) == ("Still broken.", "A")
    assert parsed.text_preview == "Still broken."


class TestQuotes:
    def test_gmail_attribution_and_quote_are_cut(self) -> None:
        """Text above a Gmail attribution is the reply; the attribution and quote are quoted."""
        split = split_reply(f"Thanks!\n\n{GMAIL_ATTRIBUTION}\n> old\n")
        assert split == ReplySplit(
            reply_text="Thanks!", quoted=f"{GMAIL_ATTRIBUTION}\n> old", signature=""
        )

    def test_wrapped_attribution(self) -> None:
        """An attribution wrapped over three lines is still recognised."""
        text = "Ok.\n\nOn Tue, Mar 5, 2024 at 10:00 AM Acme\nSupport <\nsupport@acme.example> wrote:\n> old"
        assert split_reply(text).reply_text == "Ok."

    @pytest.mark.parametrize(
        "attribution",
        [
            "Pada 5 Mar 2024, pukul 10.00, Budi <budi@contoh.id> menulis:",
            "Am 05.03.2024 um 10:00 schrieb Jürgen <j@beispiel.de>:",
            "Le 5 mars 2024 à 10:00, Amélie <a@exemple.fr> a écrit :",
            "El 5 mar 2024, a las 10:00, Lucía <l@ejemplo.es> escribió:",
            "Em 5 de mar. de 2024, à(s) 10:00, João <j@exemplo.br> escreveu:",
            "Op di 5 mrt 2024 om 10:00 schreef Sanne <s@voorbeeld.nl>:",
            "2024年3月5日 10:00 山田さんは書きました:",
            "在 2024年3月5日，10:00，王小明 <w@example.cn> 写道：",
            "5 марта 2024 г., в 10:00, Иван <i@example.ru> написал(а):",
            "05.03.2024 10:00, Иван пишет:",
        ],
    )
    def test_localised_attributions(self, attribution: str) -> None:
        """Attribution lines in each supported language start the quoted history."""
        assert split_reply(f"New text.\n\n{attribution}\n\nold text\n").reply_text == "New text."

    @pytest.mark.parametrize(
        ("sender", "sent", "to", "subject"),
        [
            ("From", "Sent", "To", "Subject"),
            ("Von", "Gesendet", "An", "Betreff"),
            ("De", "Envoyé", "À", "Objet"),
            ("Dari", "Dikirim", "Kepada", "Perihal"),
            ("De", "Enviado", "Para", "Asunto"),
            ("Van", "Verzonden", "Aan", "Onderwerp"),
            ("差出人", "送信日時", "宛先", "件名"),
            ("发件人", "发送时间", "收件人", "主题"),
            ("От", "Отправлено", "Кому", "Тема"),
        ],
    )
    def test_outlook_header_blocks(self, sender: str, sent: str, to: str, subject: str) -> None:
        """A localised Outlook header block starts the quoted history, with its separator line."""
        text = (
            f"New text.\n\n________________________________\n{sender}: A <a@b.example>\n"
            f"{sent}: today\n{to}: B <b@b.example>\n{subject}: RE: x\n\nold text"
        )
        split = split_reply(text)
        assert split.reply_text == "New text."
        assert split.quoted.startswith("_____")

    def test_one_header_like_line_is_prose(self) -> None:
        """A lone "From:" line in prose is not a header block."""
        assert split_reply("From: my side all fine.\nThanks").reply_text == (
            "From: my side all fine.\nThanks"
        )

    def test_original_message_separator(self) -> None:
        """ "-----Original Message-----" cuts even without a header block after it."""
        assert split_reply("Yes.\n-----Original Message-----\nold").reply_text == "Yes."

    def test_inline_answers_keep_their_questions(self) -> None:
        """Alternating quotes and answers stay; the trailing quote goes."""
        text = f"{GMAIL_ATTRIBUTION}\n> q1?\na1\n> q2?\na2\n> bye\n"
        assert split_reply(text).reply_text == "> q1?\na1\n> q2?\na2"

    def test_bottom_posting_drops_the_leading_quote(self) -> None:
        """A single block of new text under the quote is the reply."""
        assert split_reply(f"{GMAIL_ATTRIBUTION}\n> old\n>> older\n\nnew").reply_text == "new"

    def test_only_a_quote_gives_an_empty_reply(self) -> None:
        """A reply that adds nothing has empty reply text."""
        split = split_reply(f"\n{GMAIL_ATTRIBUTION}\n> old\n")
        assert split.reply_text == ""
        assert "> old" in split.quoted


class TestForwards:
    def test_forward_note_is_the_reply(self) -> None:
        """The note above a forward banner is the reply; the forwarded mail is quoted."""
        text = "FYI below.\n\n---------- Forwarded message ---------\nFrom: A <a@b.c>\n\nbody"
        split = split_reply(text)
        assert split.reply_text == "FYI below."
        assert "body" in split.quoted

    def test_bare_forward_is_all_new(self) -> None:
        """A forward without a note gives the whole text: the forwarded mail is new to the ticket."""
        text = "Begin forwarded message:\n\nFrom: A <a@b.c>\nSubject: x\n\nbody"
        assert split_reply(text).reply_text == text


class TestSignatures:
    def test_dash_dash_delimiter(self) -> None:
        """Everything after "-- " is signature."""
        split = split_reply("Hello.\n\n-- \nJohn\n+1 555 0100")
        assert (split.reply_text, split.signature) == ("Hello.", "John\n+1 555 0100")

    @pytest.mark.parametrize(
        "line",
        [
            "Sent from my iPhone",
            "Dikirim dari iPhone saya",
            "Von meinem iPhone gesendet",
            "Envoyé de mon iPhone",
            "Enviado desde mi iPhone",
            "Enviado do meu iPhone",
            "Verzonden vanaf mijn iPhone",
            "iPhoneから送信",
            "发自我的iPhone",
            "Отправлено с iPhone",
            "Sent from my Galaxy",
            "Get Outlook for Android<https://aka.ms/ghei36>",
            "Sent from Yahoo Mail on Android",
        ],
    )
    def test_mobile_signatures(self, line: str) -> None:
        """Mobile client lines are signatures in every supported language."""
        split = split_reply(f"Ok, thanks.\n\n{line}\n")
        assert (split.reply_text, split.signature) == ("Ok, thanks.", line)

    def test_contact_block_after_closing_and_name(self) -> None:
        """Contact lines under "Regards,\\nName" are signature; the closing and name stay."""
        split = split_reply("Please fix.\n\nRegards,\nAna\nAcme Ltd\nTel: +62 21 555 0134")
        assert split.reply_text == "Please fix.\n\nRegards,\nAna"
        assert split.signature == "Acme Ltd\nTel: +62 21 555 0134"

    def test_closing_without_contact_lines_is_kept(self) -> None:
        """A closing followed by prose-like lines without contact data is not cut."""
        text = "Please fix.\n\nThanks,\nAna\nP.S. the second unit is fine"
        assert split_reply(text).reply_text == text

    def test_signature_only_message_falls_back_to_the_text(self) -> None:
        """A message with nothing but a signature keeps its text as the reply."""
        assert split_reply("-- \nJohn Smith").reply_text == "--\nJohn Smith"


class TestHtml:
    def test_gmail_quote_container_cuts_text_without_markers(self) -> None:
        """div.gmail_quote cuts the text version even when the text has no quote markers."""
        html = (
            '<div dir="ltr">New text.</div><div class="gmail_quote"><div>Someone said</div>'
            "<blockquote>old text</blockquote></div>"
        )
        assert split_reply("New text.\n\nSomeone said\nold text", html=html).reply_text == (
            "New text."
        )

    def test_outlook_divrplyfwdmsg(self) -> None:
        """Outlook web's divRplyFwdMsg ends the reply."""
        html = '<div>Yes.</div><hr tabindex="-1"><div id="divRplyFwdMsg">Header</div><div>old</div>'
        assert split_reply("Yes.\nHeader\nold", html=html).reply_text == "Yes."

    def test_html_only_blockquote_becomes_quote_lines(self) -> None:
        """For text made from HTML, blockquote content is treated as > quoting."""
        html = "<div>Answer.</div><blockquote type=cite><div>Question?</div></blockquote>"
        split = split_reply("Answer.\nQuestion?", html=html)
        assert split.reply_text == "Answer."
        assert split.quoted == "> Question?"

    def test_text_after_a_container_is_inline(self) -> None:
        """New text after the quote container means inline answers: the HTML cut is not used."""
        html = "<blockquote>q?</blockquote><div>a.</div>"
        assert split_reply("> q?\na.", html=html).reply_text == "a."

    def test_broken_html_never_raises(self) -> None:
        """Malformed HTML falls back to the text rules."""
        assert (
            split_reply("Hi.", html="<div class='gmail_quote'<<</blockquote>").reply_text == "Hi."
        )

    def test_hostile_length_stays_cheap(self) -> None:
        """A body of many colon-ended lines is split in well under a second and loses no text."""
        text = "Step one of many:\n" * 50_000
        started = time.perf_counter()
        split = split_reply(text)
        assert time.perf_counter() - started < 1.0
        assert split.reply_text == text.strip()

    def test_long_whitespace_lines_stay_cheap(self) -> None:
        """Lines of 20,000 blanks and a letter under a "From:" line do not make the header-block
        patterns backtrack (quadratic before: minutes per line)."""
        text = "\n".join(["Thanks.", "From: x", *[" " * 20_000 + "x", "\t " * 10_000 + "x"] * 2])
        started = time.perf_counter()
        split = split_reply(text)
        assert time.perf_counter() - started < 1.0
        assert split.reply_text.startswith("Thanks.")

    def test_empty_input(self) -> None:
        """Empty text gives an empty split."""
        assert split_reply("") == ReplySplit(reply_text="", quoted="", signature="")


_LINES = st.sampled_from(
    [
        "Thanks!",
        "",
        "> quoted",
        ">> deeper",
        "-- ",
        "Sent from my iPhone",
        "Regards,",
        "Ana",
        "Tel: +62 21 555 0134",
        GMAIL_ATTRIBUTION,
        "From: A <a@b.example>",
        "Sent: today",
        "To: B",
        "Subject: FW: x",
        "________________________________",
        "-----Original Message-----",
        "Begin forwarded message:",
        "写道：",
    ]
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_LINES | st.text(max_size=30), max_size=30), html=st.none() | st.text())
def test_never_raises_and_never_invents_text(lines: list[str], html: str | None) -> None:
    """Any mix of markers and text splits without error, and every reply word comes from the text."""
    text = "\n".join(lines)
    split = split_reply(text, html=html)
    assert set(split.reply_text.split()) <= set(text.split())
    if text.strip() and not split.quoted:
        assert split.reply_text  # nothing was quoted, so something must be the reply
