"""Writes the templated part of the reply corpus: NNN.eml with NNN.expected.txt beside it.

Run `uv run python tests/corpus/replies/generate.py` to rebuild cases 001-199;
hand-written cases (200 and up) are files in this folder and are not touched.

Each case is composed from a new reply (what the expected file holds), the
quoted history and the signature, laid out the way a given mail client lays
out its replies, in text/plain, text/html or both, in UTF-8 or the
language's legacy charset. The expected text is therefore known by
construction, independently of the extractor under test. The layouts follow
the clients' real output (attribution lines, header blocks, HTML
containers); see README.md for the decisions on forwards, inline answers
and signatures.
"""

# ruff: noqa: RUF001  # the text is deliberately in Chinese, Japanese and Russian: their letters and full-width punctuation are the point

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

HERE = Path(__file__).parent
AGENT = ("Acme Support", "support@acme.example")


@dataclass(frozen=True)
class Lang:
    code: str
    name: str
    addr: str
    legacy: str
    reply: str
    old: str
    closing: str
    gmail: str
    apple: str
    thunderbird: str
    outlook: tuple[str, str, str, str]
    sent: str
    subject_prefix: str
    original: str
    iphone: str
    outlook_mobile: str
    forward_note: str


LANGS = [
    Lang(
        "en",
        "Jennifer Walsh",
        "jennifer.walsh@example.com",
        "iso-8859-1",
        "Hi,\n\nThe invoice still shows the old address. Could you resend it\nwith "
        "our new billing address in Leeds?",
        "Hello Jennifer,\n\nWe have updated your account. Please let us know if\nanything else is wrong.",
        "Thanks,",
        "On Tue, Mar 5, 2024 at 10:00 AM {name} <{addr}> wrote:",
        "On Mar 5, 2024, at 10:00, {name} <{addr}> wrote:",
        "On 3/5/24 10:00 AM, {name} wrote:",
        ("From", "Sent", "To", "Subject"),
        "Tuesday, March 5, 2024 10:00 AM",
        "RE: ",
        "-----Original Message-----",
        "Sent from my iPhone",
        "Get Outlook for iOS",
        "FYI, see the customer's complaint below.",
    ),
    Lang(
        "id",
        "Budi Santoso",
        "budi.santoso@contoh.co.id",
        "iso-8859-1",
        "Selamat siang,\n\nPesanan saya nomor 4471 belum sampai sampai hari ini.\nMohon "
        "dicek statusnya ya.",
        "Halo Pak Budi,\n\nPesanan Bapak sudah kami kirim kemarin sore.",
        "Terima kasih,",
        "Pada tanggal Sel, 5 Mar 2024 pukul 10.00 {name} <{addr}> menulis:",
        "Pada 5 Mar 2024, pukul 10.00, {name} <{addr}> menulis:",
        "Pada 05/03/24 10.00, {name} menulis:",
        ("Dari", "Dikirim", "Kepada", "Perihal"),
        "Selasa, 05 Maret 2024 10.00",
        "RE: ",
        "-----Pesan Asli-----",
        "Dikirim dari iPhone saya",
        "Dapatkan Outlook untuk Android",
        "Tolong dibantu, keluhan pelanggan di bawah ini.",
    ),
    Lang(
        "de",
        "Jürgen Müller",
        "juergen.mueller@beispiel.de",
        "iso-8859-1",
        "Hallo,\n\ndie Rechnung enthält leider noch die alte Adresse. Könnten Sie\nsie bitte "
        "korrigieren und erneut schicken?",
        "Sehr geehrter Herr Müller,\n\nwir haben Ihr Konto aktualisiert.",
        "Viele Grüße",
        "Am Di., 5. März 2024 um 10:00 Uhr schrieb {name} <{addr}>:",
        "Am 05.03.2024 um 10:00 schrieb {name} <{addr}>:",
        "Am 05.03.24 um 10:00 schrieb {name}:",
        ("Von", "Gesendet", "An", "Betreff"),
        "Dienstag, 5. März 2024 10:00",
        "AW: ",
        "-----Ursprüngliche Nachricht-----",
        "Von meinem iPhone gesendet",
        "Outlook für iOS beziehen",
        "Zur Info, die Beschwerde des Kunden unten.",
    ),
    Lang(
        "fr",
        "Amélie Lefèvre",
        "amelie.lefevre@exemple.fr",
        "iso-8859-1",
        "Bonjour,\n\nJe n'ai toujours pas reçu le remboursement de ma commande.\nPouvez-vous "
        "vérifier où en est la demande ?",
        "Bonjour Madame Lefèvre,\n\nLe remboursement a été effectué hier.",
        "Cordialement,",
        "Le mar. 5 mars 2024 à 10:00, {name} <{addr}> a écrit :",
        "Le 5 mars 2024 à 10:00, {name} <{addr}> a écrit :",
        "Le 05/03/2024 à 10:00, {name} a écrit :",
        ("De", "Envoyé", "À", "Objet"),
        "mardi 5 mars 2024 10:00",
        "RE : ",
        "-----Message d'origine-----",
        "Envoyé de mon iPhone",
        "Télécharger Outlook pour iOS",
        "Pour info, voir la réclamation ci-dessous.",
    ),
    Lang(
        "es",
        "Lucía Fernández",
        "lucia.fernandez@ejemplo.es",
        "iso-8859-1",
        "Hola,\n\nEl paquete llegó dañado y falta una pieza. ¿Me pueden enviar\nuna "
        "etiqueta de devolución?",
        "Hola Lucía,\n\nSentimos mucho lo ocurrido con su pedido.",
        "Saludos,",
        "El mar, 5 mar 2024 a las 10:00, {name} (<{addr}>) escribió:",
        "El 5 mar 2024, a las 10:00, {name} <{addr}> escribió:",
        "El 5/3/24 a las 10:00, {name} escribió:",
        ("De", "Enviado", "Para", "Asunto"),
        "martes, 5 de marzo de 2024 10:00",
        "RE: ",
        "-----Mensaje original-----",
        "Enviado desde mi iPhone",
        "Obtener Outlook para iOS",
        "Para tu información, la queja del cliente abajo.",
    ),
    Lang(
        "pt",
        "João Conceição",
        "joao.conceicao@exemplo.com.br",
        "iso-8859-1",
        "Olá,\n\nA fatura veio com o valor errado. Vocês podem emitir uma\nnova, por favor?",
        "Olá João,\n\nJá verificamos a sua conta.",
        "Atenciosamente,",
        "Em ter., 5 de mar. de 2024 às 10:00, {name} <{addr}> escreveu:",
        "Em 5 de mar. de 2024, à(s) 10:00, {name} <{addr}> escreveu:",
        "Em 05/03/2024 10:00, {name} escreveu:",
        ("De", "Enviado", "Para", "Assunto"),
        "terça-feira, 5 de março de 2024 10:00",
        "RE: ",
        "-----Mensagem original-----",
        "Enviado do meu iPhone",
        "Obter o Outlook para iOS",
        "Para sua informação, a reclamação abaixo.",
    ),
    Lang(
        "nl",
        "Sanne de Vries",
        "sanne.devries@voorbeeld.nl",
        "iso-8859-1",
        "Hallo,\n\nIk kan nog steeds niet inloggen na het resetten van mijn\nwachtwoord. "
        "Kunt u mijn account controleren?",
        "Beste Sanne,\n\nWe hebben uw wachtwoord opnieuw ingesteld.",
        "Met vriendelijke groet,",
        "Op di 5 mrt 2024 om 10:00 schreef {name} <{addr}>:",
        "Op 5 mrt 2024 om 10:00 heeft {name} <{addr}> het volgende geschreven:",
        "Op 05-03-2024 om 10:00 schreef {name}:",
        ("Van", "Verzonden", "Aan", "Onderwerp"),
        "dinsdag 5 maart 2024 10:00",
        "RE: ",
        "-----Oorspronkelijk bericht-----",
        "Verzonden vanaf mijn iPhone",
        "Outlook voor iOS downloaden",
        "Ter info, de klacht van de klant hieronder.",
    ),
    Lang(
        "ja",
        "山田太郎",
        "taro.yamada@example.jp",
        "iso-2022-jp",
        "お世話になっております。\n\n請求書の宛名が旧社名のままになっています。\n"
        "修正して再送していただけますでしょうか。",
        "山田様\n\nお問い合わせありがとうございます。",
        "よろしくお願いいたします。",
        "2024年3月5日(火) 10:00 {name} <{addr}>:",
        "2024/03/05 10:00、{name} <{addr}>のメール:",
        "2024/03/05 10:00 に {name} が書きました:",
        ("差出人", "送信日時", "宛先", "件名"),
        "2024年3月5日 10:00",
        "RE: ",
        "-----Original Message-----",
        "iPhoneから送信",
        "Outlook for iOS を入手",
        "参考までに、お客様からの苦情を転送します。",
    ),
    Lang(
        "zh",
        "王小明",
        "xiaoming.wang@example.cn",
        "gb2312",
        "您好，\n\n我上周订购的商品还没有收到，\n请帮忙查一下物流状态。",
        "王先生您好，\n\n您的订单已经发货。",
        "谢谢",
        "{name} <{addr}> 于2024年3月5日周二 10:00写道：",
        "在 2024年3月5日，10:00，{name} <{addr}> 写道：",
        "在 2024/3/5 10:00, {name} 写道:",
        ("发件人", "发送时间", "收件人", "主题"),
        "2024年3月5日 10:00",
        "回复: ",
        "-----原始邮件-----",
        "发自我的iPhone",
        "获取 Outlook for iOS",
        "供参考，客户的投诉如下。",
    ),
    Lang(
        "ru",
        "Иван Петров",
        "ivan.petrov@example.ru",
        "koi8-r",
        "Здравствуйте,\n\nв счёте указан неверный ИНН нашей компании.\nПришлите, пожалуйста, "
        "исправленный счёт.",
        "Иван, добрый день!\n\nМы обновили данные вашей компании.",
        "С уважением,",
        "вт, 5 мар. 2024 г. в 10:00, {name} <{addr}>:",
        "5 марта 2024 г., в 10:00, {name} <{addr}> написал(а):",
        "05.03.2024 10:00, {name} пишет:",
        ("От", "Отправлено", "Кому", "Тема"),
        "5 марта 2024 г. 10:00",
        "RE: ",
        "-----Исходное сообщение-----",
        "Отправлено с iPhone",
        "Загрузите Outlook для iOS",
        "К сведению: жалоба клиента ниже.",
    ),
]

CLIENTS = [
    "gmail",
    "gmail_wrapped",
    "outlook_desktop",
    "outlook_web",
    "outlook_mobile",
    "outlook_original",
    "apple_iphone",
    "thunderbird",
    "yahoo",
    "bottom_posted",
]


def _quote(text: str, depth: int = 1) -> str:
    return "\n".join((">" * depth + (" " + line if line else "")) for line in text.splitlines())


def _html_lines(text: str) -> str:
    return "".join(
        f"<div>{html.escape(line) if line else '<br>'}</div>" for line in text.splitlines()
    )


@dataclass
class Case:
    text: str | None
    html: str | None
    expected: str
    subject: str
    charset: str
    lang: Lang


def _signature(lang: Lang, variant: int, client: str) -> tuple[str, str]:
    """(closing kept in the reply, signature) for a variant."""
    closing = f"{lang.closing}\n{lang.name}"
    if variant == 1:
        return closing, f"-- \n{lang.name}\nAcme Trading Ltd.\n+62 21 555 0134"
    if variant == 2:
        return closing, f"{lang.name}\nHead of Purchasing\nTel: +49 30 1234 5678\nwww.example.com"
    if variant == 3 and client not in {"apple_iphone", "outlook_mobile"}:
        return "", lang.iphone
    return closing, ""


def build(lang: Lang, client: str, index: int) -> Case:
    variant = index % 4
    closing, signature = _signature(lang, variant, client)
    reply = lang.reply + (f"\n\n{closing}" if closing else "")
    if variant == 2 and signature:
        # the name line stays with the closing; the contact lines under it are the signature
        reply = lang.reply + f"\n\n{lang.closing}\n{lang.name}"
        signature = "\n".join(signature.splitlines()[1:])
    if client == "apple_iphone":
        signature = lang.iphone
        reply = lang.reply
    if client == "outlook_mobile":
        signature = lang.outlook_mobile
        reply = lang.reply
    joiner = "\n" if variant == 2 and client not in {"apple_iphone", "outlook_mobile"} else "\n\n"
    new_text = reply + (f"{joiner}{signature}" if signature else "")
    gmail_attr = lang.gmail.format(name=AGENT[0], addr=AGENT[1])
    apple_attr = lang.apple.format(name=AGENT[0], addr=AGENT[1])
    f, s, t, subj = lang.outlook
    subject = f"{lang.subject_prefix}Ticket #1042"
    header_lines = [
        f"{f}: {AGENT[0]} <{AGENT[1]}>",
        f"{s}: {lang.sent}",
        f"{t}: {lang.name} <{lang.addr}>",
        f"{subj}: {subject}",
    ]
    headers_text = "\n".join(header_lines)
    headers_html = "<br>".join(
        f"<b>{html.escape(h.split(': ', 1)[0])}:</b> {html.escape(h.split(': ', 1)[1])}"
        for h in header_lines
    )
    text: str | None
    body_html: str | None
    if client in {"gmail", "gmail_wrapped"}:
        attr = "\n".join(textwrap.wrap(gmail_attr, 48)) if client == "gmail_wrapped" else gmail_attr
        text = f"{new_text}\n\n{attr}\n\n{_quote(lang.old)}\n"
        body_html = (
            f'<div dir="ltr">{_html_lines(new_text)}</div><br>'
            f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">{html.escape(gmail_attr)}'
            '<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
            f'border-left:1px solid rgb(204,204,204);padding-left:1ex">{_html_lines(lang.old)}'
            "</blockquote></div>"
        )
    elif client == "outlook_desktop":
        text = f"{new_text}\n\n{headers_text}\n\n{lang.old}\n"
        body_html = (
            '<div class="WordSection1">'
            + "".join(
                f'<p class="MsoNormal">{html.escape(x) or "&nbsp;"}</p>'
                for x in new_text.splitlines()
            )
            + '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">'
            f'<p class="MsoNormal">{headers_html}</p></div><p class="MsoNormal">&nbsp;</p>'
            + "".join(
                f'<p class="MsoNormal">{html.escape(x) or "&nbsp;"}</p>'
                for x in lang.old.splitlines()
            )
            + "</div>"
        )
    elif client in {"outlook_web", "outlook_mobile"}:
        text = f"{new_text}\n\n________________________________\n{headers_text}\n\n{lang.old}\n"
        body_html = (
            f'<div dir="ltr">{_html_lines(new_text)}</div><div id="appendonsend"></div>'
            '<hr style="display:inline-block;width:98%" tabindex="-1">'
            f'<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif">{headers_html}'
            f"</font><div>&nbsp;</div></div><div>{_html_lines(lang.old)}</div>"
        )
    elif client == "outlook_original":
        text = f"{new_text}\n\n{lang.original}\n{headers_text}\n\n{lang.old}\n"
        body_html = None
    elif client == "apple_iphone":
        text = f"{new_text}\n\n{apple_attr}\n\n{_quote(lang.old)}\n"
        body_html = (
            f'<html><body dir="auto">{_html_lines(new_text)}<div dir="ltr"><br>'
            f'<blockquote type="cite">{html.escape(apple_attr)}<br><br></blockquote></div>'
            f'<blockquote type="cite"><div dir="ltr">{_html_lines(lang.old)}</div></blockquote>'
            "</body></html>"
        )
    elif client == "thunderbird":
        attr = lang.thunderbird.format(name=AGENT[0])
        text = f"{new_text}\n\n{attr}\n{_quote(lang.old)}\n"
        body_html = (
            f"<p>{_html_lines(new_text)}</p>"
            f'<div class="moz-cite-prefix">{html.escape(attr)}<br></div>'
            '<blockquote type="cite" cite="mid:abc@acme.example">'
            f"{_html_lines(lang.old)}</blockquote>"
        )
    elif client == "yahoo":
        attr = (
            "Pada Selasa, 5 Maret 2024 10.00.00 WIB, {name} <{addr}> menulis:"
            if lang.code == "id"
            else "On Tuesday, March 5, 2024 at 10:00:00 AM GMT+7, {name} <{addr}> wrote:"
        ).format(name=AGENT[0], addr=AGENT[1])
        old_indented = "\n".join(" " + line for line in lang.old.splitlines())
        text = f"{new_text}\n\n    {attr}  \n \n{old_indented}\n"
        body_html = (
            f'<div class="ydp1f2e3d4cyahoo-style-wrap">{_html_lines(new_text)}</div>'
            '<div id="yahoo_quoted_1234567" class="yahoo_quoted"><div style="font-size:13px;">'
            f"<div>{html.escape(attr)}</div><div><br></div><div><br></div>"
            f"<div>{_html_lines(lang.old)}</div></div></div>"
        )
    else:  # bottom_posted: attribution and quote first, the new text under it
        attr = lang.thunderbird.format(name=AGENT[0])
        text = f"{attr}\n{_quote(lang.old)}\n\n{new_text}\n"
        body_html = None
    if body_html is not None and index % 5 == 0 and client != "gmail_wrapped":
        text = None  # an HTML-only message: the parser makes the text from the HTML
    charset = lang.legacy if index % 3 == 0 else "utf-8"
    return Case(text, body_html, reply, subject, charset, lang)


def forward(lang: Lang, with_note: bool) -> Case:
    note = lang.forward_note if with_note else ""
    banner = "---------- Forwarded message ---------"
    fwd_headers = (
        f"From: {lang.name} <{lang.addr}>\nDate: Tue, Mar 5, 2024 at 10:00 AM\n"
        f"Subject: Ticket #1042\nTo: <{AGENT[1]}>"
    )
    forwarded = f"{banner}\n{fwd_headers}\n\n\n{lang.reply}\n"
    text = (f"{note}\n\n" if note else "") + forwarded
    expected = note or text
    return Case(text, None, expected, "Fwd: Ticket #1042", "utf-8", lang)


def write(number: int, case: Case, note: str) -> None:
    message = EmailMessage(policy=SMTP)
    message["From"] = f"{case.lang.name} <{case.lang.addr}>"
    message["To"] = f"{AGENT[0]} <{AGENT[1]}>"
    message["Subject"] = case.subject
    message["Date"] = "Tue, 05 Mar 2024 10:30:00 +0700"
    message["Message-ID"] = f"<reply-corpus-{number:03d}@example.test>"
    message["X-Corpus-Case"] = note
    if case.text is not None:
        message.set_content(case.text, charset=case.charset)
        if case.html is not None:
            message.add_alternative(case.html, subtype="html", charset=case.charset)
    else:
        assert case.html is not None
        message.set_content(case.html, subtype="html", charset=case.charset)
    (HERE / f"{number:03d}.eml").write_bytes(message.as_bytes())
    (HERE / f"{number:03d}.expected.txt").write_text(case.expected + "\n", encoding="utf-8")


def main() -> None:
    number = 1
    for lang in LANGS:
        for index, client in enumerate(CLIENTS):
            case = build(lang, client, index + LANGS.index(lang))
            shape = "html-only" if case.text is None else ("text+html" if case.html else "text")
            write(number, case, f"{lang.code} {client} {shape} {case.charset}")
            number += 1
    for i, lang in enumerate(LANGS):
        write(number, forward(lang, with_note=i % 2 == 0), f"{lang.code} gmail forward")
        number += 1


if __name__ == "__main__":
    main()
