"""Default language detector: writing system first, then weighted stopwords. No model, no download.

Method (`StopwordLanguageDetector`), on the first 600 characters:
1. Writing system. Kana (hiragana/katakana) means Japanese; Han without
   kana means Chinese; Cyrillic means Russian -- when that script holds at
   least a fifth of the letters.
2. Latin text: each word found in a language's stopword list adds
   1/n to that language, where n is the number of our languages listing the
   word (so "de", shared by five, counts little, and "yang" counts fully);
   letters only one of the languages uses (ß, ñ, ã/õ, ij, French elisions
   l'/d'/qu') add 0.5 or 1.
   The highest score wins if it has at least 1.0 and beats the runner-up;
   otherwise the answer is None (unknown), never a guess.

Languages: en, id, de, fr, es, pt, nl, ja, zh, ru (ISO 639-1). Why our own
rather than lingua/fasttext: the parser must stay near 800 messages/s per
core, this costs microseconds and no model files; the protocol in enrich.py
lets a model-backed detector replace it. Accuracy: docs/benchmarks.md.
"""

from __future__ import annotations

import re

MAX_CHARS = 600
MIN_SCORE = 1.0
SCRIPT_SHARE = 0.2
LANGUAGES = ("en", "id", "de", "fr", "es", "pt", "nl", "ja", "zh", "ru")

_STOPWORDS: dict[str, str] = {
    "en": """the and is are was were to of in for on with my i you your we our it this that have has
        had not no be can could would please thanks thank hi hello will just still but if me what when
        why how do does did am an at from there they as or so been any get got received order
        yet should which who since about after before again already our us its here wrong
        i'm it's don't can't i've i'd we're you're that's there's isn't wasn't didn't doesn't won't
        haven't hasn't""",
    "id": """yang dan di ke dari ini itu untuk dengan tidak saya kami anda bisa ada sudah belum akan pada
        juga atau karena mohon terima kasih tolong apakah bagaimana kapan sampai masih harus kenapa
        mengapa bapak ibu pesanan barang sekali lagi ya tapi namun jika kalau agar supaya sejak
        setelah sebelum hari minggu bulan sangat banget gak nggak enggak udah dong sih kok aja saja
        mau ingin perlu sedang telah dalam oleh kita mereka dia hingga segera halo hai selamat pagi
        siang sore malam kak gan min sudah belum dikirim diterima pembayaran saldo akun tanggal
        minta bantuannya bantu mas mbak apa tersebut hal tanpa kerja boleh sih deh nih""",
    "de": """der die das und ist nicht ich sie wir es ein eine einen mit für auf zu den dem von mein
        meine ihr ihre bitte danke hallo haben habe hat noch kein keine wurde wie was warum wann bei
        auch aber oder schon nach sehr vielen gruß grüße bestellung können kann mir mich dass sind
        war ist immer leider seit heute gestern ihnen uns unsere unser wäre würde""",
    "fr": """le la les et est je vous nous il elle un une des du de pour avec sur dans pas ne mon ma
        mes votre vos merci bonjour cordialement commande que qui ce cette suis ai avez été toujours
        mais ou très reçu aussi encore depuis quand pourquoi comment au aux y en n'ai j'ai c'est
        qu'il d'un s'il jour hier aujourd'hui""",
    "es": """el la los las y es de que en un una por para con no mi mis su sus usted ustedes hola
        gracias pedido está estoy he ha han todavía pero muy cuando porque cómo qué del al lo le se
        me yo saludos favor ya aún sido recibido hace hoy ayer tengo puede pueden nuestro
        dos son fue sin sobre entre hasta desde donde cuál cuándo cuánto también esta este más""",
    "pt": """o a os as e é de do da dos das que em no na um uma para com não meu minha seu sua você
        vocês olá obrigado obrigada pedido está estou ainda mas muito quando porque como por favor
        já foi recebi ao pelo pela isso este esta hoje ontem tenho pode podem nosso atenciosamente
        mais dois nossa são sem sobre até desde onde qual também""",
    "nl": """de het een en is niet ik je jij u wij we ze van voor met op in te dat die mijn uw jullie
        bedankt dank hallo goedemorgen bestelling nog geen maar of heel wanneer waarom hoe wat al ben
        heb heeft zijn was ook alstublieft graag groeten groet kunt kan wordt werd vandaag gisteren
        ontvangen onze ons kunnen naar zou moet deze dit hier er om aan bij over uit""",
}
_WORD_LANGUAGES: dict[str, list[str]] = {}
for _language, _words in _STOPWORDS.items():
    for _word in set(_words.split()):
        _WORD_LANGUAGES.setdefault(_word, []).append(_language)
_WORD_WEIGHTS: dict[str, tuple[tuple[str, float], ...]] = {
    word: tuple((language, 1.0 / len(languages)) for language in languages)
    for word, languages in _WORD_LANGUAGES.items()
}
# Letters (or elisions) that point at one language; (pattern, language, weight).
_LETTER_HINTS: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (re.compile(r"ß|ü"), "de", 0.5),
    (re.compile(r"[ñ¿¡]"), "es", 1.0),
    (re.compile(r"[ãõ]|ção|ções"), "pt", 1.0),
    (re.compile(r"[èêëœ]|ç(?!ão|ões)"), "fr", 0.5),
    (re.compile(r"\b(?:l|d|j|qu|n|c|s)'[^\W\d_]"), "fr", 1.0),
    (re.compile(r"\bij|ij\b"), "nl", 0.5),
)
_ASCII_HINTS = tuple(hint for hint in _LETTER_HINTS if hint[0].pattern.isascii())
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LETTER = re.compile(r"[^\W\d_]")


class StopwordLanguageDetector:
    """Language of a short text from its script and stopwords; None when unsure."""

    languages = LANGUAGES

    def detect(self, text: str) -> str | None:
        sample = text[:MAX_CHARS]
        if sample.isascii():
            return _latin(sample.lower(), ascii_only=True)
        letters = len(_LETTER.findall(sample))
        if letters == 0:
            return None
        kana = len(_KANA.findall(sample))
        han = len(_HAN.findall(sample))
        if kana and (kana + han) / letters >= SCRIPT_SHARE:
            return "ja"
        if han / letters >= SCRIPT_SHARE:
            return "zh"
        if len(_CYRILLIC.findall(sample)) / letters >= SCRIPT_SHARE:
            return "ru"
        return _latin(sample.lower(), ascii_only=False)


def _latin(sample: str, *, ascii_only: bool) -> str | None:
    scores: dict[str, float] = {}
    sample = sample.replace("\u2019", "'")
    for word in _WORD.findall(sample):
        for language, weight in _WORD_WEIGHTS.get(word, ()):
            scores[language] = scores.get(language, 0.0) + weight
    for pattern, language, weight in _ASCII_HINTS if ascii_only else _LETTER_HINTS:
        if pattern.search(sample):
            scores[language] = scores.get(language, 0.0) + weight
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:2]
    if not ranked or ranked[0][1] < MIN_SCORE:
        return None
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None
    return ranked[0][0]
