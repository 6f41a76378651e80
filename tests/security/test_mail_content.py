"""Hostile mail content, through the whole pipeline, as the gateway serves it.

The mails of `hostile_mail` reach ingest's signed raw-mail webhook and become tickets
(`hostile_inbox`: every service a process). They carry script and mutation-XSS payloads
in the HTML body, the subject, the sender's name and file names; SVG, HTML, JavaScript,
XML and XHTML attachments and HTML declared as PNG or plain text; an embedded SVG image;
bodies whose script appears only under UTF-7 or ISO-2022-JP decoding or that name
another charset inside; markup in a plain-text mail.

Pass:
- each message's HTML (`GET /messages/{id}/html`, and `html_body` in the ticket's JSON,
  the parser's output a frontend might use) has no active element, event handler,
  script or data URL in a URL attribute, srcset, or style reaching a URL or expression;
- that HTML comes as `text/html; charset=utf-8` under a Content-Security-Policy with
  `sandbox` and `default-src 'none'` and nothing allowing script, with nosniff and no
  referrer; it inlines no image but PNG, JPEG, GIF or WebP (not the embedded SVG);
- a plain-text mail has no HTML at all (404) and its markup stays text;
- subjects, sender names and file names come only inside `application/json`, as the
  strings that were sent (the API never turns them into markup);
- every attachment downloads (`Content-Disposition: attachment` with an ASCII name
  that cannot break out of its quotes), with nosniff, the sandbox CSP, and a type from
  the allow-list: never HTML, SVG, XML or script, which come as octet-stream.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.security.active_content import active_content
from tests.security.hostile_mail import (
    NAME_PAYLOAD,
    REMOTE_PAYLOADS,
    SCRIPT_PAYLOADS,
    marker,
)
from tests.security.hostile_stack import HostileInbox

pytestmark = pytest.mark.e2e

HTML_MAILS = ("markup", "swallow100", "swallow101", "utf7", "iso2022", "metacharset", "remote")
SCRIPT_TYPES = re.compile(r"html|svg|xml|javascript|ecmascript|text/x-|application/x-sh", re.I)
# what a browser may not be allowed: any source of script, or a way out of the sandbox
CSP_LOOSENERS = ("script-src", "unsafe-eval", "allow-scripts", "allow-same-origin", "*")


def csp_directives(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {d[0].lower(): (d[1] if len(d) > 1 else "") for d in directives}


async def served_html(http: httpx.AsyncClient, message_id: str) -> httpx.Response:
    return await http.get(f"/messages/{message_id}/html")


@pytest.fixture
async def http(hostile_inbox: HostileInbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=hostile_inbox.gateway, headers=hostile_inbox.auth, timeout=30
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("key", "count"), [("markup", len(SCRIPT_PAYLOADS)), ("remote", len(REMOTE_PAYLOADS))]
)
def test_every_payload_was_parsed_on_its_own(
    hostile_inbox: HostileInbox, key: str, count: int
) -> None:
    """No payload swallowed the ones after it: each one's end marker survives, so each
    was sanitised (and is rendered) by itself."""
    (message,) = hostile_inbox.messages(key)
    missing = [n for n in range(count) if marker(n) not in message["html_body"]]
    assert missing == [], missing


@pytest.mark.parametrize("key", HTML_MAILS)
async def test_served_html_is_inert_under_a_sandbox_csp(
    hostile_inbox: HostileInbox, http: httpx.AsyncClient, key: str
) -> None:
    """The gateway's HTML of each hostile body: no active content, served sandboxed."""
    marker = f":{hostile_inbox.listener.port}/"
    (message,) = hostile_inbox.messages(key)
    assert message["html_body"], f"{key}: the parser kept no HTML body"
    assert active_content(message["html_body"], marker) == []
    response = await served_html(http, message["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp.get("sandbox") == "", csp  # present, and allowing nothing
    assert csp["default-src"] == "'none'", csp
    assert not [d for d in CSP_LOOSENERS if d in response.headers["content-security-policy"]]
    assert active_content(response.text, marker) == []


async def test_embedded_images_inline_only_raster_types(
    hostile_inbox: HostileInbox, http: httpx.AsyncClient
) -> None:
    """The embedded SVG (cid:) is an attachment of the message but never inlined."""
    (message,) = hostile_inbox.messages("markup")
    assert "postdesk-attachment:" in message["html_body"], "the cid: image was not mapped"
    served = (await served_html(http, message["id"])).text
    assert "data:image/svg" not in served
    assert "postdesk-attachment:" not in served


async def test_plain_text_mail_never_becomes_html(
    hostile_inbox: HostileInbox, http: httpx.AsyncClient
) -> None:
    """Markup in a text/plain mail stays text: no HTML body, 404 for its HTML."""
    (message,) = hostile_inbox.messages("textonly")
    assert not message["html_body"]
    assert NAME_PAYLOAD in message["text_body"]
    assert (await served_html(http, message["id"])).status_code == 404


async def test_names_and_subjects_are_json_strings(
    hostile_inbox: HostileInbox, http: httpx.AsyncClient
) -> None:
    """Subject and sender name come back verbatim, and only as JSON."""
    ticket = hostile_inbox.tickets["markup"]
    for path in ("/tickets", f"/tickets/{ticket['id']}"):
        response = await http.get(path)
        assert response.headers["content-type"].startswith("application/json"), path
    (message,) = hostile_inbox.messages("markup")
    assert ticket["subject"] == NAME_PAYLOAD
    assert message["subject"] == NAME_PAYLOAD
    assert message["from"]["name"] == NAME_PAYLOAD
    assert ticket["customer_name"] == NAME_PAYLOAD


def attachments(hostile_inbox: HostileInbox) -> list[dict[str, Any]]:
    (message,) = hostile_inbox.messages("markup")
    found: list[dict[str, Any]] = message["attachments"]
    return found


async def test_every_attachment_downloads_inert(
    hostile_inbox: HostileInbox, http: httpx.AsyncClient
) -> None:
    """Each hostile attachment: a download, nosniff, sandboxed, never a scriptable type."""
    files = attachments(hostile_inbox)
    assert len(files) == 11, [a["filename"] for a in files]
    served_types = {}
    for attachment in files:
        response = await http.get(f"/attachments/{attachment['id']}")
        assert response.status_code == 200, response.text
        headers = response.headers
        media_type = headers["content-type"].split(";")[0]
        served_types[attachment["filename"]] = media_type
        assert not SCRIPT_TYPES.search(media_type), (attachment["filename"], media_type)
        assert headers["x-content-type-options"] == "nosniff"
        csp = csp_directives(headers["content-security-policy"])
        assert csp.get("sandbox") == "", csp
        assert csp["default-src"] == "'none'", csp
        disposition = headers["content-disposition"]
        assert re.fullmatch(
            r"attachment; filename=\"[A-Za-z0-9!#$&+.^_`|~ -]+\"; filename\*=UTF-8''[A-Za-z0-9%._~-]+",
            disposition,
        ), disposition
    declared_active = [a["filename"] for a in files if SCRIPT_TYPES.search(a["content_type"])]
    assert len(declared_active) == 6, files  # SVG twice, HTML, JavaScript, XML, XHTML
    assert {served_types[name] for name in declared_active} == {"application/octet-stream"}
