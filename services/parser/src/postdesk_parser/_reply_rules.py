"""The line patterns `reply.split_reply` recognises: pure data, no logic.

Each pattern matches one line (or an attribution joined from up to three
wrapped lines) with surrounding whitespace stripped. They are written from
what the mail clients put in their replies and forwards, per language:
Gmail, Outlook (desktop, web, mobile), Apple Mail, Thunderbird and Yahoo in
English, Indonesian, German, French, Spanish, Portuguese, Dutch, Japanese,
Chinese and Russian.
"""

# ruff: noqa: RUF001, RUF003  # the text is deliberately in Chinese, Japanese and Russian: their letters and full-width punctuation are the point

from __future__ import annotations

import re

_I = re.IGNORECASE

# "On <date>, <name> <addr> wrote:" and its translations. LEAD patterns open with a lead
# word and close with a verb, the middle bounded so prose does not match; TAIL patterns are
# searched in the last characters only (the verb, then a colon), which keeps long lines cheap.
ATTRIBUTION_LEAD = re.compile(
    "|".join(
        f"(?:{p})"
        for p in (
            r"^on\b.{3,240}\bwrote\s*:?$",
            r"^pada\b.{3,240}\bmenulis\s*:?$",
            r"^am\b.{3,240}\bschrieb\b.{0,160}:$",
            r"^le\b.{3,240}\ba\s+écrit\s*:$",
            r"^el\b.{3,240}\bescribió\s*:$",
            r"^em\b.{3,240}\bescreveu\s*:$",
            r"^op\b.{3,240}\bschreef\b.{0,160}:$",
            r"^op\b.{3,240}\bhet volgende geschreven\s*:$",
            # Gmail in Japanese: "2024年3月5日(火) 10:00 Name <addr>:"
            r"^\d{4}年\d{1,2}月\d{1,2}日.{0,200}[:：]$",
            # Gmail in Russian: "вт, 5 мар. 2024 г. в 10:00, Name <addr>:"
            r"^\S{1,4},?\s*\d{1,2}\s+\S{1,8}\s+\d{4}\s*г\.,?\s*в\s*\d{1,2}:\d{2},.{1,200}:$",
            # Yandex and other webmail: "05.03.2024, 10:00, "Name" <addr>:" -- no verb, so an address is required
            r"^\d{1,2}[./]\d{1,2}[./]\d{2,4},?\s+\d{1,2}:\d{2},\s*.{0,160}@.{1,100}[:：]$",
        )
    ),
    _I,
)
# Verbs that end an attribution (before its colon) whatever opens it: Japanese, Chinese, Russian.
ATTRIBUTION_VERBS = (
    "さんは書きました",
    "が書きました",
    "のメール",
    "写道",
    "寫道",
    "пишет",
    "написал(а)",
    "написала",
    "написал",
)
# "<name> wrote:" with no lead word (Thunderbird, Yahoo, mailing lists): trusted only when
# the line also carries an address or a date, or a ">" quote follows it.
GENERIC_VERBS = ("wrote", "menulis", "schrieb", "a écrit", "escribió", "escreveu", "schreef")
MAX_ATTRIBUTION_CHARS = 400

# Possessive runs: the whitespace around the optional "**" may be split between two
# quantifiers in n ways, and a line of spaces with no key backtracked through all of them
# (quadratic: 8,000 spaces took 24 s in one match; tests/security/test_mail_bombs.py).
_KEY = r"^[\s>]*+\*{{0,2}}\s*+({keys})\s*+\*{{0,2}}\s*+[:：]"
FROM_KEY = re.compile(
    _KEY.format(keys="from|von|de|dari|van|差出人|发件人|寄件者|от|od|fra|från|da|mittente"), _I
)
OTHER_KEYS = re.compile(
    _KEY.format(
        keys="|".join(
            (
                "sent|date|to|cc|subject",
                "gesendet|datum|an|betreff|kopie",
                "envoyé|à|objet",
                "dikirim|tanggal|kepada|perihal|subjek|tembusan",
                "enviado|enviada|fecha|para|asunto|assunto|data",
                "verzonden|aan|onderwerp",
                "送信日時|日付|宛先|件名",
                "发送时间|日期|收件人|主题|抄送|寄件日期|收件者|主旨",
                "отправлено|дата|кому|тема|копия",
            )
        )
    ),
    _I,
)
_FORWARD_PREFIX = r"(fwd?|fw|wg|tr|rv|enc|doorst|trs|转发|轉寄|пересл)\s*[:：]"
FORWARD_SUBJECT = re.compile(
    _KEY.format(
        keys="subject|betreff|objet|perihal|subjek|asunto|assunto|onderwerp|件名|主题|主旨|тема"
    )
    + r"\s*"
    + _FORWARD_PREFIX,
    _I,
)

# "-----Original Message-----" and forward banners, with any run of dashes around them.
ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(original message|ursprüngliche nachricht|original-nachricht|message d'origine"
    r"|mensaje original|mensagem original|oorspronkelijk bericht|pesan asli"
    r"|исходное сообщение|原始邮件|原始郵件|元のメッセージ)\s*-{2,}$",
    _I,
)
FORWARD_BANNER = re.compile(
    r"^(-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré"
    r"|mensaje reenviado|mensagem encaminhada|doorgestuurd bericht|pesan yang diteruskan"
    r"|pesan terusan|пересылаемое сообщение|转发的邮件|轉寄的郵件|転送されたメッセージ)\s*-{2,}"
    r"|begin forwarded message\s*:|anfang der weitergeleiteten nachricht\s*:"
    r"|début du message réexpédié\s*:|inicio del mensaje reenviado\s*:"
    r"|início da mensagem reencaminhada\s*:|begin doorgestuurd bericht\s*:"
    r"|awal pesan yang diteruskan\s*:|転送されたメッセージ\s*[:：]"
    r"|以下是转发的邮件\s*[:：]|-{2,}\s*转发邮件信息\s*-{2,})$",
    _I,
)
SEPARATOR = re.compile(r"^(_{8,}|-{8,}|={8,})$")

SIGNATURE_DELIMITER = re.compile(r"^--\s*$")
MOBILE_SIGNATURE = re.compile(
    r"^("
    r"sent (from|via|with|using) .{2,60}"
    r"|get outlook for (ios|android)"
    r"|dapatkan outlook untuk (ios|android)"
    r"|outlook für (ios|android) beziehen"
    r"|(télécharger|obtenir) outlook pour (ios|android)"
    r"|obtener outlook para (ios|android)"
    r"|(obter|baixe) o outlook para (ios|android)"
    r"|outlook voor (ios|android) downloaden"
    r"|dikirim (dari|dengan|melalui) .{2,60}"
    r"|von meinem .{2,50} gesendet"
    r"|gesendet (von|mit|vom) .{2,60}"
    r"|envoyé (de|depuis|avec|à partir de) .{2,60}"
    r"|enviado (desde|do|de|a partir do|con|com) .{2,60}"
    r"|verzonden (vanaf|met|van|via) .{2,60}"
    r"|.{1,30}から送信"
    r"|发自我的.{1,30}|从我的.{1,30}发送|來自我的.{1,30}|寄自我的.{1,30}"
    r"|отправлено (с|из|через) .{2,60}"
    r"|outlook for (ios|android)\s*を入手|获取\s*outlook for (ios|android)"
    r"|(загрузите|скачайте|получите) outlook для (ios|android)"
    r")[.!。]?(\s*<[^>]*>)?$",
    _I,
)

# A closing line; the name under it stays in the reply, contact lines under that are signature.
VALEDICTION = re.compile(
    r"^("
    r"thanks|thank you|many thanks|thanks again|thanks in advance|thx|regards|best regards"
    r"|kind regards|warm regards|best wishes|best|cheers|sincerely|yours truly|br"
    r"|salam|hormat saya|hormat kami|terima kasih|terimakasih|makasih|wassalam|salam hangat"
    r"|mit freundlichen grüßen|mit freundlichen grüssen|mfg|viele grüße|beste grüße|grüße|gruß"
    r"|cordialement|bien cordialement|merci|merci beaucoup|bien à vous"
    r"|saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias"
    r"|atenciosamente|abraços|obrigado|obrigada|cumprimentos"
    r"|met vriendelijke groet|met vriendelijke groeten|groeten|groet|mvg|bedankt"
    r"|よろしくお願いします|よろしくお願いいたします|宜しくお願いします|以上です|以上"
    r"|谢谢|謝謝|此致|敬礼|祝好|顺祝商祺"
    r"|с уважением|спасибо|всего доброго|всего хорошего"
    r")[\s,.!。、~-]*$",
    _I,
)
CONTACT = re.compile(
    r"(\+?\d[\d\s().-]{7,}\d"
    r"|[\w.+-]+@[\w-]+\.[\w.-]+"
    r"|https?://|www\.|\.(com|id|co|net|org)\b"
    r"|\b(tel|telp|phone|mobile|mob|hp|wa|whatsapp|fax|ph|m|t)\b\s*[.:])",
    _I,
)
