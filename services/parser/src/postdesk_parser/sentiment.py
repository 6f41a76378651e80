"""Default sentiment scorer: a small lexicon of our own for English and Indonesian, with negation.

Labels, as a support desk means them: negative = the writer reports a
problem or is unhappy; positive = satisfaction or gratitude is the point of
the message; neutral = a question, request or information without either.

Method (`LexiconSentimentScorer`), on the first 600 characters, lower-cased
and split into words:
- each lexicon word adds its weight (+1 positive, -1 negative; courtesy
  words such as "thanks"/"terima kasih" only +0.5, because most requests
  end with them; strong words +-2);
- "expectation" words (arrived, received, working, refunded; sampai,
  diterima, berfungsi, ...) weigh nothing on their own but -1 when negated
  ("hasn't arrived", "belum sampai");
- a word not in the lexicon is tried without one common affix (crashing ->
  crash; mengecewakannya -> mengecewakan, terburuk -> buruk);
- a negator (not, no, never, *n't; tidak, belum, bukan, gak, ...) within the
  three words before a word, in the same clause (punctuation ends one),
  flips its sign (a negated negative
  only counts half: "no problem" is mild);
- an intensifier (very, really, so; sangat, banget, sekali) before a word
  multiplies it by 1.5;
- after a contrast word (but, however; tapi, namun, sayangnya) the earlier words count half.
The sum above +0.75 is positive, below -0.75 negative, else neutral.
Languages without a lexicon get None. Accuracy: docs/benchmarks.md.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_CHARS = 600
THRESHOLD = 0.75
NEGATION_WINDOW = 3
INTENSITY = 1.5
Lexicon = dict[str, float]


def _words(text: str) -> list[str]:
    return text.split()


_EN: Lexicon = {
    **dict.fromkeys(
        _words(
            """good great excellent amazing awesome perfect love loved happy glad pleased satisfied
        helpful quick fast fantastic wonderful brilliant appreciate appreciated nice smooth easy
        resolved solved works recommend impressed best friendly kind superb useful
            beautiful lovely"""
        ),
        1.0,
    ),
    **dict.fromkeys(_words("thanks thank thx cheers grateful"), 0.5),
    **dict.fromkeys(
        _words("""bad broken wrong late delayed missing damaged problem problems issue issues error errors
        fail failed failing failure slow terrible awful horrible worst angry annoyed frustrated
        frustrating disappointed disappointing unacceptable ridiculous useless complaint complain
        refund cancel charged twice overcharged stuck crash crashes crashed lost defective
        unhappy poor rude ignored waiting worse nobody nothing scam unable cannot impossible
        incorrect faulty leak leaking cracked expired locked declined down apart bounce"""),
        -1.0,
    ),
    **dict.fromkeys(_words("terrible awful horrible worst unacceptable scam ridiculous"), -2.0),
    **dict.fromkeys(_words("amazing excellent fantastic perfect superb brilliant"), 2.0),
}
_ID: Lexicon = {
    **dict.fromkeys(
        _words("""bagus baik mantap puas senang cepat ramah membantu sukses berhasil lancar keren hebat
        memuaskan rekomendasi suka terbaik beres mudah top oke ok bermanfaat menghargai"""),
        1.0,
    ),
    **dict.fromkeys(_words("terima kasih makasih thanks trims"), 0.25),
    **dict.fromkeys(
        _words("""rusak salah telat terlambat lambat lama hilang cacat masalah kendala error gagal buruk
        jelek kecewa kesal marah parah kacau lemot penipuan tipu refund batal dibatalkan terpotong
        dobel ganda pecah bocor kurang komplain keluhan mengecewakan susah sulit nyangkut
        pending macet ditolak mati hang lelet retak kasar bau"""),
        -1.0,
    ),
    **dict.fromkeys(_words("parah mengecewakan penipuan kacau"), -2.0),
}
_EXPECTATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        _words("""arrived arrive received receive working work works delivered responded replied refunded
        fixed answered shipped processed updated showing helped solved resolved""")
    ),
    "id": frozenset(
        _words("""sampai datang diterima terima berfungsi dikirim dibalas direspon dibayar masuk diproses
        cair aktif muncul bisa jalan ada""")
    ),
}
_NEGATORS: dict[str, frozenset[str]] = {
    "en": frozenset(
        _words("not no never nothing nobody neither nor without cannot cant dont doesnt")
    ),
    "id": frozenset(
        _words("tidak tak belum bukan jangan gak nggak enggak ngga ga blm tdk gk kurang")
    ),
}
_INTENSIFIERS = frozenset(_words("very really so extremely too sangat banget sekali amat terlalu"))
_CONTRAST = frozenset(_words("but however tapi namun sayangnya"))
_LEXICONS: dict[str, Lexicon] = {"en": _EN, "id": _ID}
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_CLAUSE = re.compile(r"[.!?;,:\n]+")
_SUFFIXES = {"en": ("ing", "ed", "ly", "s"), "id": ("nya", "lah", "kah", "pun", "kan")}
_PREFIXES: dict[str, tuple[str, ...]] = {"en": (), "id": ("ter", "di", "ber")}


class LexiconSentimentScorer:
    """positive / neutral / negative for English and Indonesian text; None for other languages."""

    languages = tuple(_LEXICONS)

    def score(self, text: str, language: str | None) -> str | None:
        lexicon = _LEXICONS.get(language or "")
        if lexicon is None:
            return None
        language = language or ""
        sample = text[:MAX_CHARS].lower().replace("\u2019", "'")
        value = 0.0
        for clause in _CLAUSE.split(sample):
            value = _sum(_WORD.findall(clause), language, lexicon, carried=value)
        if value > THRESHOLD:
            return "positive"
        if value < -THRESHOLD:
            return "negative"
        return "neutral"


def _sum(words: list[str], language: str, lexicon: Lexicon, *, carried: float) -> float:
    """`carried` (the earlier clauses' sum) plus this clause's words; negation stays in the clause."""
    negators = _NEGATORS[language]
    expectations = _EXPECTATIONS[language]
    total = carried
    last_negator = -NEGATION_WINDOW - 1
    previous = ""
    for index, raw in enumerate(words):
        if raw in negators or raw.endswith("n't"):
            last_negator = index
        if raw in _CONTRAST:
            total /= 2
            previous = raw
            continue
        word = _stem(raw, language)
        weight = lexicon.get(word, 0.0)
        negated = 0 < index - last_negator <= NEGATION_WINDOW
        if negated and word in expectations:
            weight = -1.0
        elif negated and weight:
            weight = -weight if weight > 0 else -weight / 2
        if weight and previous in _INTENSIFIERS:
            weight *= INTENSITY
        total += weight
        previous = raw
    return total


@lru_cache(maxsize=65536)
def _stem(word: str, language: str) -> str:
    """The word, or the form without one common affix that the lexicon knows (crashing -> crash)."""
    lexicon, expectations = _LEXICONS[language], _EXPECTATIONS[language]
    if word in lexicon or word in expectations:
        return word
    for suffix in _SUFFIXES[language]:
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) > 2 and (base in lexicon or base in expectations):
            return base
    for prefix in _PREFIXES[language]:
        base = word[len(prefix) :]
        if word.startswith(prefix) and len(base) > 2 and base in lexicon:
            return base
    return word
