"""The hostile mails of the content and remote-content attacks, as raw bytes: pure, no I/O.

Every script payload calls `tripwire(n)`: it logs `pwned-<n>` to the console,
beacons to the test's loopback listener at /xss/<n> and opens an alert, so
running it shows in any of three places (the rendering tests watch all three).
Remote-content payloads point at /remote/<what> on the same listener, which
nothing may ever request. Each mail comes from its own sender address, which
is how a test finds its ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from postdesk_cli.demo import address

MAILBOX = address("cs")
SENDER_DOMAIN = "hostile.example"
# What sender names, subjects and file names carry: no slash, which a file name loses.
NAME_PAYLOAD = '"><img src=x onerror=alert(document.domain)><script>alert(1)</script>'
# A real 1x1 PNG, and an SVG image that would run script if it were ever opened as a document.
PNG_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def tripwire(n: int, listener: str) -> str:
    """JavaScript (no quotes of either kind) that makes its running visible."""
    return f"console.log(`pwned-{n}`);fetch(`{listener}/xss/{n}`);alert(`pwned-{n}`)"


# `JS` is replaced by a tripwire; most come from published sanitiser bypasses (mutation XSS).
SCRIPT_PAYLOADS = (
    "<script>JS</script>",
    '<img src=x onerror="JS">',
    '<img src="data:image/png;base64,iVBORw0KGgo=" onerror="JS">',
    '<svg onload="JS"></svg>',
    "<svg><script>JS</script></svg>",
    '<svg><animate onbegin="JS" attributeName="x" dur="1s"/></svg>',
    '<body onload="JS">',
    '<details open ontoggle="JS"><summary>s</summary></details>',
    '<input autofocus onfocus="JS">',
    '<select autofocus onfocus="JS"></select>',
    '<iframe srcdoc="&lt;script&gt;JS&lt;/script&gt;"></iframe>',
    '<iframe src="javascript:JS"></iframe>',
    '<object data="javascript:JS"></object>',
    '<embed src="javascript:JS">',
    '<meta http-equiv="refresh" content="0;url=javascript:JS">',
    '<base href="javascript:JS//">',
    '<a href="javascript:JS">plain</a>',
    '<a href="jav&#x09;ascript:JS">tab</a>',
    '<a href="&#106;avascript:JS">entity</a>',
    '<a href=" javascript:JS">space</a>',
    '<a href="data:text/html,&lt;script&gt;JS&lt;/script&gt;">data</a>',
    '<form action="javascript:JS"><button autofocus>go</button></form>',
    '<noscript><p title="</noscript><img src=x onerror=JS>"></noscript>',
    '<svg></p><style><a id="</style><img src=1 onerror=JS>">',
    '<!--><img src=x onerror="JS">-->',
    '<![CDATA[><img src=x onerror="JS">]]>',
    '<xmp><img src=x onerror="JS"></xmp>',
    '<template><img src=x onerror="JS"></template>',
    "<scr<script>ipt>JS</scr</script>ipt>",
    '<img """><script>JS</script>">',
    '<div style="background-image:url(javascript:JS)">bg</div>',
    '<div style="width:expression(JS)">expr</div>',
    '<table background="javascript:JS"><tr><td>t</td></tr></table>',
    '<video><source onerror="JS"></video>',
    '<audio src=x onerror="JS"></audio>',
    '<marquee onstart="JS">m</marquee>',
    '<img src="x" onerror\n="JS">',
    "<img src=x onerror=JS//",
    '<p style="animation-name:spin" onanimationstart="JS">anim</p>',
    '<style>@keyframes spin{}</style><p style="animation:spin 1s" onanimationend="JS">a</p>',
    '<isindex type=image src=1 onerror="JS">',
    '<a id=x tabindex=1 onfocusin="JS" autofocus>focus</a>',
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<img src="data:image/svg+xml,&lt;svg onload=JS&gt;">',
)

# Mutation XSS that leaves the sanitiser's parse inside foreign content to the end of the
# document, taking whatever follows with it: each comes last in a mail of its own.
SWALLOWING_PAYLOADS = (
    '<math><mtext><table><mglyph><style><img src=x onerror="JS">',
    '<form><math><mtext></form><form><mglyph><style></math><img src onerror="JS">',
)
SWALLOWING_FIRST = 100  # their tripwire numbers

# `URL` is replaced by the listener's /remote/<n> (hosts vary: the literal address, names
# that resolve to loopback, a decimal address, protocol-relative).
REMOTE_PAYLOADS = (
    '<img src="URL">',
    '<img src="URL" width="1" height="1" alt="">',
    '<img srcset="URL 2x" src="cid:none">',
    '<picture><source srcset="URL"><img alt="p"></picture>',
    '<link rel="stylesheet" href="URL">',
    "<style>@import url(URL);</style>",
    "<style>body{background:url(URL)}</style>",
    '<div style="background:url(URL)">bg</div>',
    '<div style="background-image:url(&quot;URL&quot;)">bg</div>',
    '<table background="URL"><tr><td>t</td></tr></table>',
    '<body background="URL">',
    '<video poster="URL"></video>',
    '<input type="image" src="URL">',
    '<iframe src="URL"></iframe>',
    '<object data="URL"></object>',
    '<svg><image href="URL"/></svg>',
    '<meta http-equiv="refresh" content="0;url=URL">',
    '<img src="URL" loading="lazy">',
    '<div style="list-style-image:url(URL)">li</div>',
    '<font face="x" style="font-family:url(URL)">f</font>',
)


@dataclass(frozen=True)
class HostileMail:
    key: str  # also the sender's local part
    raw: bytes

    @property
    def sender(self) -> str:
        return f"{self.key}@{SENDER_DOMAIN}"


# Ends whatever context a payload left open (a raw-text element, a comment, foreign
# content), so that it cannot swallow the payloads after it; then a marker that shows it
# did not.
CLOSE_CONTEXTS = (
    "-->]]></style></xmp></noscript></template></textarea></title></iframe></noembed>"
    "</script></select></math></svg></form></table>"
)


def marker(n: int) -> str:
    return f"[payload {n} ends]"


def script_payloads(listener: str) -> list[str]:
    return [
        payload.replace("JS", tripwire(n, listener)) + CLOSE_CONTEXTS + f"<p>{marker(n)}</p>"
        for n, payload in enumerate(SCRIPT_PAYLOADS)
    ]


def remote_hosts(listener_port: int) -> list[str]:
    """Ways to name the listener: its address, names resolving to loopback (the browser
    resolves any *.localhost there), the address in decimal, and without a scheme."""
    return [
        f"http://127.0.0.1:{listener_port}",
        f"http://localhost:{listener_port}",
        f"http://rebind.localhost:{listener_port}",
        f"http://2130706433:{listener_port}",
        f"https://127.0.0.1:{listener_port}",
        f"//127.0.0.1:{listener_port}",
    ]


def remote_payloads(listener_port: int) -> list[str]:
    hosts = remote_hosts(listener_port)
    return [
        payload.replace("URL", f"{hosts[n % len(hosts)]}/remote/{n}")
        + CLOSE_CONTEXTS
        + f"<p>{marker(n)}</p>"
        for n, payload in enumerate(REMOTE_PAYLOADS)
    ]


def _mail(key: str, subject: str, display_name: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(display_name, key, SENDER_DOMAIN)
    message["To"] = MAILBOX
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=SENDER_DOMAIN)
    return message


def markup_mail(listener: str) -> HostileMail:
    """Script payloads in the HTML body, the subject, the sender's name and file names;
    attachments that are active documents (SVG, HTML, JavaScript, HTML posing as PNG), and
    an embedded SVG image referenced by cid:."""
    message = _mail("markup", NAME_PAYLOAD, display_name=NAME_PAYLOAD)
    payloads = script_payloads(listener)
    message.set_content("<script>alert(1)</script> the text part of a hostile mail")
    body = '<html><body><p>embedded <img src="cid:vector@hostile.example"></p>'
    body += "\n".join(payloads) + "</body></html>"
    message.add_alternative(body, subtype="html")
    active = f"<script>{tripwire(900, listener)}</script>"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" onload="{tripwire(901, listener)}">{active}</svg>'
    )
    attachments: list[tuple[bytes, str, str, str]] = [
        (svg.encode(), "image", "svg+xml", "drawing.svg"),
        (f"<html><body>{active}</body></html>".encode(), "text", "html", "page.html"),
        (tripwire(902, listener).encode(), "application", "javascript", "code.js"),
        (f"<html>{active}</html>".encode(), "image", "png", "photo.png"),
        (f"<html>{active}</html>".encode(), "text", "plain", "notes.txt"),
        (f"<html>{active}</html>".encode(), "application", "octet-stream", NAME_PAYLOAD + ".html"),
        (b"x", "application", "pdf", 'report.pdf"; filename="evil.html'),
        (b"y", "application", "pdf", "invoice\u202elmth.pdf"),
        (b"z", "text", "xml", "feed.xml"),
        (b"w", "application", "xhtml+xml", "page.xhtml"),
    ]
    for data, maintype, subtype, filename in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    message.add_attachment(
        svg.encode(),
        maintype="image",
        subtype="svg+xml",
        disposition="inline",
        cid="<vector@hostile.example>",
        filename="vector.svg",
    )
    return HostileMail("markup", bytes(message))


def swallowing_mails(listener: str) -> list[HostileMail]:
    mails = []
    for n, payload in enumerate(SWALLOWING_PAYLOADS, start=SWALLOWING_FIRST):
        message = _mail(f"swallow{n}", f"swallowing payload {n}")
        message.set_content(
            f"<p>before</p>{payload.replace('JS', tripwire(n, listener))}", subtype="html"
        )
        mails.append(HostileMail(f"swallow{n}", bytes(message)))
    return mails


def charset_mails(listener: str) -> list[HostileMail]:
    """HTML whose script appears only once the charset is applied (UTF-7, ISO-2022-JP's
    escape to ASCII), or that names another charset inside itself than its label."""
    js = tripwire(950, listener)
    utf7 = _mail("utf7", "utf-7 body")
    utf7.set_content(
        f"<html><body>+ADw-script+AD4-{js}+ADw-/script+AD4-"
        f"+ADw-img src=x onerror=+ACI-{js}+ACI-+AD4-</body></html>",
        subtype="html",
        charset="utf-7",
        cte="7bit",
    )
    escaped = _mail("iso2022", "iso-2022-jp body")
    escaped.set_content("placeholder", subtype="html", charset="iso-2022-jp", cte="7bit")
    # ESC ( B switches ISO-2022-JP to ASCII: invisible once decoded, a break before
    escaped.set_payload(
        f'<html><body><scr\x1b(Bipt>{js}</scr\x1b(Bipt><img src=x o\x1b(Bnerror="{js}">'
        "</body></html>"
    )
    meta = _mail("metacharset", "meta charset")
    meta.set_content(
        '<html><head><meta charset="utf-7"><meta http-equiv="Content-Type" '
        'content="text/html; charset=utf-7"></head><body>'
        f"+ADw-script+AD4-{tripwire(952, listener)}+ADw-/script+AD4-"
        f"<scr\x00ipt>{tripwire(953, listener)}</scr\x00ipt></body></html>",
        subtype="html",
    )
    return [
        HostileMail("utf7", bytes(utf7)),
        HostileMail("iso2022", bytes(escaped)),
        HostileMail("metacharset", bytes(meta)),
    ]


def text_only_mail() -> HostileMail:
    """Markup in a plain-text mail: it must stay text, never become an HTML body."""
    message = _mail("textonly", "<b>bold</b> subject")
    message.set_content(f"{NAME_PAYLOAD}\n<iframe src=javascript:alert(1)>")
    return HostileMail("textonly", bytes(message))


def remote_mail(listener_port: int) -> HostileMail:
    """Tracking pixels, remote CSS, background images, srcset, links, frames and a
    message/external-body part, all aimed at the test's loopback listener."""
    base = f"http://127.0.0.1:{listener_port}"
    message = _mail("remote", "remote content")
    message["List-Unsubscribe"] = f"<{base}/remote/unsubscribe>"
    message["Disposition-Notification-To"] = f"remote@{SENDER_DOMAIN}"
    message["Content-Base"] = f"{base}/remote/content-base/"
    message.set_content(f"see {base}/remote/text-link")
    body = "<html><body><p>remote</p>" + "\n".join(remote_payloads(listener_port))
    body += f'<a href="{base}/remote/link">a link nobody clicks</a></body></html>'
    message.add_alternative(body, subtype="html")
    external = EmailMessage()
    external.set_payload("Content-Type: text/html\r\n\r\n")
    external["Content-Type"] = (
        f'message/external-body; access-type=URL; URL="{base}/remote/external"'
    )
    message.make_mixed()
    message.attach(external)
    return HostileMail("remote", bytes(message))


def hostile_mails(listener: str, listener_port: int) -> list[HostileMail]:
    return [
        markup_mail(listener),
        *swallowing_mails(listener),
        *charset_mails(listener),
        text_only_mail(),
        remote_mail(listener_port),
    ]
