"""Mail content on demand, on the real database: GET /attachments/{id} and
GET /messages/{id}/html. The module's settings put the blob store in the session's
temporary blob directory; `files` stores real blobs and the attachments naming them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import pytest_asyncio
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, make_blob_store
from postdesk_schema import Attachment, AuditLog, Message
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
JWT_SECRET = "test-secret-" + "x" * 32
HOSTILE_HTML = (
    '<p onclick="steal()">Hi <b>there</b></p><script>alert(1)</script>'
    '<img src="https://tracker.test/p.gif"><img src="data:image/png;base64,AAAA">'
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def settings(database_url: str, amqp_url: str, blob_dir: Path) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url, amqp_url=amqp_url, jwt_secret=JWT_SECRET, blob_dir=blob_dir
    )


@dataclass
class Files:
    """Attachment and message ids by name."""

    attachments: dict[str, uuid.UUID]
    messages: dict[str, uuid.UUID]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def files(world: Any, sessions: Sessions, settings: GatewaySettings) -> Files:
    """On support_1's first message: a PDF with a non-ASCII name and an HTML file claiming
    to be text/html; on B's ticket a message with HTML and an attachment; on support_1 a
    message whose HTML body is hostile."""
    blobs = make_blob_store(settings)
    pdf_ref = await blobs.put(b"%PDF-1.7 invoice")
    html_ref = await blobs.put(b"<script>alert(1)</script>")
    first = world.messages["first"]
    b_ticket = world.tickets["b_1"]

    def attachment(message: Message | Any, name: str, content_type: str, ref: str) -> Attachment:
        return Attachment(
            tenant_id=message.tenant_id,
            message_id=message.id,
            filename=name,
            content_type=content_type,
            size=16,
            blob_ref=ref,
        )

    png = b"\x89PNG\r\n\x1a\n logo"
    png_ref = await blobs.put(png)
    script_ref = await blobs.put(b"<svg onload=alert(1)>")
    embedding = Message(
        tenant_id=first.tenant_id,
        ticket_id=first.ticket_id,
        account_id=first.account_id,
        message_id_header=f"embeds-{world.suffix}@client.test",
        html_body=(
            f'<p>Logo:</p><img src="{embedded(png_ref)}" alt="logo">'
            f'<img src="{embedded(script_ref)}" alt="svg"><img src="{embedded(pdf_ref)}" alt="b">'
        ),
    )
    hostile = Message(
        tenant_id=first.tenant_id,
        ticket_id=first.ticket_id,
        account_id=first.account_id,
        message_id_header=f"html-{world.suffix}@client.test",
        html_body=HOSTILE_HTML,
    )
    b_message = Message(
        tenant_id=b_ticket.tenant_id,
        ticket_id=b_ticket.id,
        account_id=b_ticket.account_id,
        message_id_header=f"b-html-{world.suffix}@client.test",
        html_body="<p>B's secret</p>",
    )
    found = {
        "lost": attachment(first, "lost.pdf", "application/pdf", "sha256:" + "0" * 64),
        "pdf": attachment(first, "Rechnung März.pdf", "application/pdf", pdf_ref),
        "html": attachment(first, "page.html", "text/html", html_ref),
        "b": attachment(b_message, "b.pdf", "application/pdf", pdf_ref),
        "logo": attachment(embedding, "logo.png", "image/png", png_ref),
        "svg": attachment(embedding, "x.svg", "image/svg+xml", script_ref),
    }
    async with sessions() as session, session.begin():
        session.add_all([hostile, b_message, embedding])
        await session.flush()
        session.add_all(found.values())
    return Files(
        attachments={k: v.id for k, v in found.items()},
        messages={
            "hostile": hostile.id,
            "b": b_message.id,
            "plain": first.id,
            "embedding": embedding.id,
        },
    )


def embedded(ref: str) -> str:
    """How the parser leaves an embedded image's cid: link: its attachment's digest."""
    return "postdesk-attachment:" + ref.removeprefix("sha256:")


async def audited(sessions: Sessions, object_id: uuid.UUID, action: str) -> list[AuditLog]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(
                col(AuditLog.object_id) == str(object_id), col(AuditLog.action) == action
            )
        )
        return list(rows.all())


class TestAttachmentDownload:
    async def test_served_as_a_download_with_safe_headers(
        self, client: httpx.AsyncClient, files: Files, auth: Auth, sessions: Sessions
    ) -> None:
        """The bytes, as an attachment named per RFC 6266, nosniff, sandboxed; audit-logged."""
        attachment_id = files.attachments["pdf"]
        response = await client.get(f"/attachments/{attachment_id}", headers=auth("viewer"))
        assert response.status_code == 200, response.text
        assert response.content == b"%PDF-1.7 invoice"
        assert response.headers["content-type"] == "application/pdf"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="Rechnung M_rz.pdf"; ')
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Rechnung März.pdf"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
        [audit] = await audited(sessions, attachment_id, "attachment.downloaded")
        assert audit.detail["message_id"]

    async def test_content_missing_from_storage_is_a_404_that_says_so(
        self, client: httpx.AsyncClient, files: Files, auth: Auth, sessions: Sessions
    ) -> None:
        attachment_id = files.attachments["lost"]
        response = await client.get(f"/attachments/{attachment_id}", headers=auth("viewer"))
        assert response.status_code == 404
        assert response.json()["detail"] == "the attachment's content is missing from storage"
        assert await audited(sessions, attachment_id, "attachment.downloaded") == []

    async def test_a_type_off_the_allow_list_is_octet_stream(
        self, client: httpx.AsyncClient, files: Files, auth: Auth
    ) -> None:
        response = await client.get(
            f"/attachments/{files.attachments['html']}", headers=auth("primary")
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"

    @pytest.mark.parametrize(
        ("role", "name"),
        [("unassigned", "pdf"), ("admin_b", "pdf"), ("admin", "b"), ("primary", "b")],
    )
    async def test_invisible_is_404(
        self, client: httpx.AsyncClient, files: Files, auth: Auth, role: str, name: str
    ) -> None:
        """Another mailbox's or another tenant's attachment: 404, no bytes."""
        response = await client.get(f"/attachments/{files.attachments[name]}", headers=auth(role))
        assert response.status_code == 404
        assert b"PDF" not in response.content

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient, auth: Auth) -> None:
        response = await client.get(f"/attachments/{uuid.uuid4()}", headers=auth("admin"))
        assert response.status_code == 404


class TestMessageHtml:
    async def test_cleaned_and_served_under_a_strict_csp(
        self, client: httpx.AsyncClient, files: Files, auth: Auth, sessions: Sessions
    ) -> None:
        """No script, no handler, no remote image; the embedded image stays; the CSP allows
        nothing but inline styles and embedded images; audit-logged."""
        message_id = files.messages["hostile"]
        response = await client.get(f"/messages/{message_id}/html", headers=auth("viewer"))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        body = response.text
        assert "<b>there</b>" in body
        for banned in ("script", "onclick", "tracker.test"):
            assert banned not in body
        assert "data:image/png;base64,AAAA" in body
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert len(await audited(sessions, message_id, "message.html_read")) == 1

    async def test_embedded_images_come_inline_and_nothing_else_does(
        self, client: httpx.AsyncClient, files: Files, auth: Auth
    ) -> None:
        """The message's own PNG is inlined as a data: URI; its SVG (a type that can run
        script) and an image naming another message's attachment are dropped."""
        response = await client.get(
            f"/messages/{files.messages['embedding']}/html", headers=auth("viewer")
        )
        assert response.status_code == 200, response.text
        logo = base64.b64encode(b"\x89PNG\r\n\x1a\n logo").decode()
        assert f'<img src="data:image/png;base64,{logo}" alt="logo">' in response.text
        assert '<img alt="svg">' in response.text
        assert '<img alt="b">' in response.text
        assert "postdesk-attachment" not in response.text

    async def test_a_message_without_html_is_404(
        self, client: httpx.AsyncClient, files: Files, auth: Auth
    ) -> None:
        response = await client.get(
            f"/messages/{files.messages['plain']}/html", headers=auth("admin")
        )
        assert response.status_code == 404

    @pytest.mark.parametrize(
        ("role", "name"), [("unassigned", "hostile"), ("admin_b", "hostile"), ("admin", "b")]
    )
    async def test_invisible_is_404(
        self, client: httpx.AsyncClient, files: Files, auth: Auth, role: str, name: str
    ) -> None:
        response = await client.get(f"/messages/{files.messages[name]}/html", headers=auth(role))
        assert response.status_code == 404
        assert "secret" not in response.text
        assert "there" not in response.text
