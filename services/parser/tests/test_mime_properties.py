"""Property-based: mutated and truncated real-shaped MIME never crashes the parser or loses readable text."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postdesk_parser.domain import UnparseableMailError, parse_mail

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "mime"
SAMPLES = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAIN = (
    "From: alice@customer.example\r\nTo: support@acme.example\r\nSubject: hi\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: {cte}\r\n\r\n"
)
TEXT = "Grüße aus Jakarta, pesanan saya belum sampai. 注文がまだ届きません。\r\n" * 20


def parse_or_reject(raw: bytes) -> str | None:
    """The text parse_mail reads, or None when it rejects the bytes with a reason (never another error)."""
    try:
        return parse_mail(raw).text
    except UnparseableMailError:
        return None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "splice"]))
        if action == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif action == "insert":
            token = draw(st.sampled_from([b"--", b"\r\n", b"=?utf-8?b?", b";", b'"', b"\x00", b"=",
                                          b"boundary=", b"Content-Type: multipart/mixed", b"\xff\xfe"]))  # fmt: skip
            raw[at:at] = token
        elif action == "delete":
            del raw[at : at + draw(st.integers(1, 64))]
        else:
            other = SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))]
            raw[at:at] = other[: draw(st.integers(0, len(other)))]
    return bytes(raw)


class TestProperties:
    @FAST
    @given(mutated())
    def test_mutated_mime_never_raises(self, raw: bytes) -> None:
        """Byte flips, inserted MIME tokens, deletions and splices give a parse or a rejection, nothing else."""
        text = parse_or_reject(raw)
        assert text is None or isinstance(text, str)

    @FAST
    @given(st.sampled_from(sorted(SAMPLES)), st.floats(0.0, 1.0))
    def test_truncated_samples_never_raise(self, name: str, fraction: float) -> None:
        """Every corpus message cut anywhere parses or is rejected, never crashes."""
        raw = SAMPLES[name]
        parse_or_reject(raw[: int(len(raw) * fraction)])

    @FAST
    @given(st.sampled_from(["8bit", "base64", "quoted-printable"]), st.integers(0, 10_000))
    def test_truncated_body_yields_a_prefix(self, cte: str, cut: int) -> None:
        """A message cut inside its body still yields a prefix of the full text (up to the cut character)."""
        if cte == "8bit":
            body = TEXT.encode()
        elif cte == "base64":
            import base64

            body = base64.encodebytes(TEXT.encode()).replace(b"\n", b"\r\n")
        else:
            import quopri

            body = quopri.encodestring(TEXT.encode())
        head = PLAIN.format(cte=cte).encode()
        full = parse_mail(head + body).text
        assert full is not None
        assert full.replace("\r\n", "\n").strip() == TEXT.replace("\r\n", "\n").strip()
        text = parse_or_reject(head + body[: cut % (len(body) + 1)])
        assert text is not None
        readable = text.rstrip("\ufffd")
        assert full.startswith(readable)
        if cut % (len(body) + 1) > len(body) // 2:
            assert len(readable) >= len(full) // 3  # the text read is really kept, not dropped
