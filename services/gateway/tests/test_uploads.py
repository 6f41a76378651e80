"""Uploads and the attachments of replies and new mail. Real PostgreSQL.

(tests/test_upload_round_trip.py renders such a mail with the outbound service.)

The module's own settings put the blob store in the session's temporary
blob directory and make the size limits small (`MAX_BYTES`, `MAX_TOTAL`),
so "too large" needs kilobytes, not megabytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from postdesk_gateway.domain import CurrentUser, InvalidRequestError, PayloadTooLargeError
from postdesk_gateway.settings import GatewaySettings
from postdesk_gateway.uploads import (
    MAX_FILENAME_CHARS,
    UPLOAD_PURPOSE,
    Uploads,
    normalize_content_type,
    sanitize_filename,
)
from postdesk_runtime import BlobStore, Sessions, make_blob_store
from postdesk_schema import OutboxEvent, Tenant, User
from postdesk_testing.problems import problem_detail
from sqlalchemy import update
from sqlmodel import col, select

pytestmark = pytest.mark.integration

MAX_BYTES = 4096
MAX_TOTAL = 6000
FIRST_NUMBER = 2000
JWT_SECRET = "test-secret-" + "x" * 32
Auth = Any


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def settings(database_url: str, amqp_url: str, blob_dir: Path) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url,
        amqp_url=amqp_url,
        jwt_secret=JWT_SECRET,
        blob_dir=blob_dir,
        upload_max_bytes=MAX_BYTES,
        attachments_max_total_bytes=MAX_TOTAL,
    )


@pytest.fixture
def blobs(settings: GatewaySettings) -> BlobStore:
    return make_blob_store(settings)


def current(user: User) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        full_name=user.full_name,
        role=str(user.role),
        department_id=None,
        is_admin=False,
    )


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    filename: str = "report.pdf",
    content_type: str = "application/pdf",
) -> httpx.Response:
    return await client.post(
        "/uploads", headers=headers, files={"data": (filename, data, content_type)}
    )


async def uploaded(client: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> str:
    response = await upload(client, headers, data)
    assert response.status_code == 201, response.text
    upload_id: str = response.json()["upload_id"]
    return upload_id


async def reply(
    client: httpx.AsyncClient, headers: dict[str, str], ticket_id: uuid.UUID, *ids: str
) -> httpx.Response:
    return await client.post(
        f"/tickets/{ticket_id}/replies",
        headers=headers,
        json={"text": "The file you asked for.", "attachments": list(ids)},
    )


async def requested(sessions: Sessions, outbound_id: str) -> dict[str, Any]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.routing_key) == "outbound.requested",
                col(OutboxEvent.body).contains(outbound_id),
            )
        )
        [row] = rows.all()
    envelope: dict[str, Any] = json.loads(row.body)
    return envelope


class TestFilenames:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\report.pdf", "report.pdf"),
            ("in\r\nvoice\x00.pdf", "invoice.pdf"),
            ("Bcc: x\r\n.txt", "Bcc: x.txt"),
            ("a\u2028b.txt", "ab.txt"),
            ("", "attachment"),
            (None, "attachment"),
            ("dir/", "attachment"),
            ("\r\n", "attachment"),
            ("..", "attachment"),
            ("Re\u0301sume\u0301.pdf", "Résumé.pdf"),
        ],
    )
    def test_path_and_control_characters_are_dropped(
        self, given: str | None, expected: str
    ) -> None:
        assert sanitize_filename(given) == expected

    def test_a_long_name_keeps_its_extension(self) -> None:
        name = sanitize_filename("x" * 300 + ".pdf")
        assert len(name) == MAX_FILENAME_CHARS
        assert name.endswith("x.pdf")
        assert len(sanitize_filename("y" * 300)) == MAX_FILENAME_CHARS

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("application/PDF", "application/pdf"),
            ("text/plain; charset=utf-8", "text/plain"),
            ("", "application/octet-stream"),
            (None, "application/octet-stream"),
            ("text/plain\r\nBcc: x@y", "application/octet-stream"),
            ("nonsense", "application/octet-stream"),
        ],
    )
    def test_content_types(self, given: str | None, expected: str) -> None:
        assert normalize_content_type(given) == expected


class TestUpload:
    async def test_stores_the_bytes_and_describes_them(
        self, client: httpx.AsyncClient, auth: Auth, blobs: BlobStore
    ) -> None:
        data = b"%PDF-1.4 quarterly numbers"
        response = await upload(client, auth("primary"), data)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["filename"] == "report.pdf"
        assert body["content_type"] == "application/pdf"
        assert body["size"] == len(data)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["upload_id"]

    async def test_a_path_in_the_file_name_is_dropped(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        response = await upload(client, auth("primary"), b"x", filename="../../secret/a.txt")
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "a.txt"

    async def test_control_characters_in_a_raw_multipart_name_are_dropped(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        """Built by hand: HTTP clients percent-escape control characters in a file name."""
        boundary = "postdesk-boundary"
        body = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; '
            'filename="..\\..\\in\tvo\x01ice\x7f.pdf"\r\n'
            "Content-Type: not a type\r\n"
            "\r\n"
            "content\r\n"
            f"--{boundary}--\r\n"
        ).encode()
        response = await client.post(
            "/uploads",
            headers=auth("primary") | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=body,
        )
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "invoice.pdf"
        assert response.json()["content_type"] == "application/octet-stream"

    async def test_a_form_without_exactly_one_file_is_400(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        no_file = await client.post(
            "/uploads", headers=auth("primary"), files={"note": (None, "just text")}
        )
        problem_detail(no_file, 400)
        two = await client.post(
            "/uploads",
            headers=auth("primary"),
            files=[("a", ("a.txt", b"a", "text/plain")), ("b", ("b.txt", b"b", "text/plain"))],
        )
        problem_detail(two, 400)

    async def test_over_the_limit_is_413(self, client: httpx.AsyncClient, auth: Auth) -> None:
        detail = problem_detail(await upload(client, auth("primary"), b"x" * (MAX_BYTES + 1)), 413)
        assert "4096 bytes" in detail
        response = await upload(client, auth("primary"), b"x" * MAX_BYTES)
        assert response.status_code == 201, response.text

    async def test_a_body_far_over_the_limit_is_413(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        response = await upload(client, auth("primary"), b"x" * (MAX_BYTES + 128 * 1024))
        problem_detail(response, 413)

    async def test_needs_a_user(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/uploads", files={"data": ("a.txt", b"x", "text/plain")})
        problem_detail(response, 401)


class TestReplyWithAttachments:
    async def test_the_request_names_the_stored_blob(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        blobs: BlobStore,
        settings: GatewaySettings,
    ) -> None:
        data = b"%PDF-1.4 the invoice " + uuid.uuid4().bytes
        first = await upload(client, auth("primary"), data, filename="invoice.pdf")
        second = await upload(client, auth("primary"), b"a,b\n1,2\n", "rows.csv", "text/csv")
        ticket = world.tickets["support_1"]
        response = await reply(
            client,
            auth("primary"),
            ticket.id,
            first.json()["upload_id"],
            second.json()["upload_id"],
        )
        assert response.status_code == 202, response.text
        envelope = await requested(sessions, response.json()["outbound_id"])
        invoice, rows = envelope["payload"]["attachments"]
        assert (invoice["filename"], invoice["content_type"], invoice["size"]) == (
            "invoice.pdf",
            "application/pdf",
            len(data),
        )
        assert invoice["sha256"] == hashlib.sha256(data).hexdigest()
        assert await blobs.get(invoice["blob_ref"]) == data
        assert rows["filename"] == "rows.csv"
        assert await blobs.get(rows["blob_ref"]) == b"a,b\n1,2\n"

    async def test_a_new_mail_carries_its_attachment(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        async with sessions() as session, session.begin():
            # Past the numbers of the world's seeded tickets.
            await session.execute(
                update(Tenant)
                .where(col(Tenant.id) == world.tenant_a)
                .values(next_ticket_number=FIRST_NUMBER)
            )
        upload_id = await uploaded(client, auth("primary"), b"hello")
        response = await client.post(
            "/tickets",
            headers=auth("primary"),
            json={
                "account_id": str(world.accounts["support"].id),
                "to": [{"email": "someone@client.test"}],
                "subject": "Your file",
                "text": "Attached.",
                "attachments": [upload_id],
            },
        )
        assert response.status_code == 201, response.text
        envelope = await requested(sessions, response.json()["outbound_id"])
        [attachment] = envelope["payload"]["attachments"]
        assert attachment["size"] == len(b"hello")

    async def test_without_attachments_the_request_has_none(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        response = await reply(client, auth("primary"), world.tickets["support_1"].id)
        assert response.status_code == 202, response.text
        envelope = await requested(sessions, response.json()["outbound_id"])
        assert envelope["payload"]["attachments"] == []

    @pytest.mark.parametrize("uploader", ["backup", "admin_b"])
    async def test_another_users_upload_is_400(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, uploader: str
    ) -> None:
        """Another user of the tenant (who may send on this ticket too), or of another tenant."""
        upload_id = await uploaded(client, auth(uploader), b"not yours")
        response = await reply(client, auth("primary"), world.tickets["support_1"].id, upload_id)
        assert "attachments[0]" in problem_detail(response, 400)

    async def test_a_tampered_token_is_400(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        upload_id = await uploaded(client, auth("primary"), b"original")
        sealed = bytearray(base64.b64decode(upload_id))
        sealed[-20] ^= 0x01
        tampered = base64.b64encode(bytes(sealed)).decode()
        ticket_id = world.tickets["support_1"].id
        for bad in (tampered, "not a token", upload_id[:-8]):
            response = await reply(client, auth("primary"), ticket_id, bad)
            problem_detail(response, 400)

    async def test_a_token_sealed_for_another_purpose_is_400(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, settings: GatewaySettings
    ) -> None:
        upload_id = await uploaded(client, auth("primary"), b"x")
        claims = settings.keyring().decrypt_text(upload_id, purpose=UPLOAD_PURPOSE)
        other = settings.keyring().encrypt_text(claims, purpose=b"smtp-password")
        response = await reply(client, auth("primary"), world.tickets["support_1"].id, other)
        problem_detail(response, 400)

    async def test_an_expired_upload_is_400(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        settings: GatewaySettings,
        blobs: BlobStore,
    ) -> None:
        uploads = Uploads(settings.keyring(), blobs)
        old = await uploads.store(
            current(world.users["primary"]),
            filename="old.txt",
            content_type="text/plain",
            data=b"yesterday",
            now=datetime.now(UTC) - timedelta(hours=24, minutes=1),
        )
        response = await reply(
            client, auth("primary"), world.tickets["support_1"].id, old.upload_id
        )
        assert "expired" in problem_detail(response, 400)

    async def test_too_large_together_is_413(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        first = await uploaded(client, auth("primary"), b"a" * 3500)
        second = await uploaded(client, auth("primary"), b"b" * 3500)
        response = await reply(
            client, auth("primary"), world.tickets["support_1"].id, first, second
        )
        assert "together" in problem_detail(response, 413)

    async def test_more_than_twenty_is_400(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        upload_id = await uploaded(client, auth("primary"), b"x")
        response = await reply(
            client, auth("primary"), world.tickets["support_1"].id, *[upload_id] * 21
        )
        problem_detail(response, 400)


class TestTokens:
    """The token rules without HTTP: issue time, user, tenant."""

    async def test_valid_until_24_hours(
        self, world: Any, blobs: BlobStore, settings: GatewaySettings
    ) -> None:
        uploads = Uploads(settings.keyring(), blobs)
        user = current(world.users["primary"])
        issued = datetime(2026, 1, 1, tzinfo=UTC)
        result = await uploads.store(
            user, filename="a.txt", content_type="text/plain", data=b"a", now=issued
        )
        [attachment] = uploads.attachments(
            user, [result.upload_id], now=issued + timedelta(hours=24)
        )
        assert attachment.filename == "a.txt"
        with pytest.raises(InvalidRequestError, match="expired"):
            uploads.attachments(
                user, [result.upload_id], now=issued + timedelta(hours=24, seconds=1)
            )
        with pytest.raises(InvalidRequestError):
            uploads.attachments(user, [result.upload_id], now=issued - timedelta(hours=1))

    async def test_limits(self, world: Any, blobs: BlobStore, settings: GatewaySettings) -> None:
        uploads = Uploads(settings.keyring(), blobs, max_bytes=10, max_total_bytes=15)
        user = current(world.users["primary"])
        with pytest.raises(PayloadTooLargeError):
            await uploads.store(user, filename="a", content_type=None, data=b"x" * 11)
        ten = await uploads.store(user, filename="a", content_type=None, data=b"x" * 10)
        five = await uploads.store(user, filename="b", content_type=None, data=b"y" * 5)
        assert len(uploads.attachments(user, [ten.upload_id, five.upload_id])) == 2
        with pytest.raises(PayloadTooLargeError):
            uploads.attachments(user, [ten.upload_id, ten.upload_id])
