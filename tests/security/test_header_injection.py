"""Header injection through every header value a user can set, from the gateway's API to the
SMTP sink: the real gateway app in-process on the pipeline of tests/security/pipeline.py
(outbound sends to the development mail sink, a real SMTP server keeping what it gets).

Payloads: CR LF, bare LF, bare CR, NUL, NEL (U+0085) and the line separator U+2028, each
followed by a header (`Bcc: evil@attacker.example`, `X-Injected: ...`), and C0 controls
with no blank at all.

| attack | pass |
| --- | --- |
| compose: subject, To/Cc/Bcc display names and addresses | 4xx with an error naming the field |
| reply: Cc/Bcc display names and addresses | 4xx |
| upload: an attachment file name with the payload (all but those with a line feed, which cannot be in a multipart header line) | stored, the name without the control character |
| admin: a mailbox's display name, auto-reply subject and address, a user's name, login and company address | 4xx, or the stored value has no control character |
| an agent's and a mailbox's signature with the payload (body text: line breaks are allowed) | saved; the sent reply carries it in the body, not as a header |
| everything above, then a reply, a new mail with the upload and an auto-reply | every mail the sink received has no `X-Injected` or `Bcc` header, and no envelope or header recipient `evil@attacker.example` |
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from litestar import Litestar
from postdesk_cli.demo import DEMO_PASSWORD, address
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings
from postdesk_testing import asgi_client, eventually, started
from postdesk_testing.gateway_login import bearer, session_of

from tests.faults.stack import FaultStack
from tests.security.gateway_api import JWT_SECRET
from tests.security.pipeline import arrived, sent_mails

pytestmark = pytest.mark.e2e

MAILBOX = address("cs")
EVIL = "evil@attacker.example"
PAYLOADS = {
    "CRLF": f"\r\nBcc: {EVIL}",
    "LF": "\nX-Injected: lf",
    "CR": "\rX-Injected: cr",
    "NUL": "\x00X-Injected: nul",
    "NEL": "\x85X-Injected: nel",
    "LS": "\u2028X-Injected: ls",
    "C0": "\x01\x1b",  # no blank: an address pattern refusing only whitespace lets it by
}
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Gateway:
    http: httpx.AsyncClient
    agent: dict[str, str]  # john, primary of cs@
    admin: dict[str, str]
    account_id: str
    agent_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(pipeline: FaultStack) -> AsyncIterator[Gateway]:
    app: Litestar = create_app(
        GatewaySettings(
            database_url=pipeline.database_url,
            amqp_url=pipeline.amqp_url,
            blob_dir=pipeline.blob_dir,  # outbound reads the uploads from there
            jwt_secret=JWT_SECRET,
            db_pool_size=2,
        )
    )
    async with started(app), asgi_client(app) as http:
        agent = await session_of(http, address("john"), DEMO_PASSWORD)
        admin = await session_of(http, address("admin"), DEMO_PASSWORD)
        async with pipeline.engine.connect() as conn:
            account_id = (
                await conn.execute(
                    sa.text("SELECT id FROM email_accounts WHERE address = :a"), {"a": MAILBOX}
                )
            ).scalar_one()
            agent_id = (
                await conn.execute(
                    sa.text("SELECT id FROM users WHERE email = :e"), {"e": address("john")}
                )
            ).scalar_one()
        yield Gateway(
            http,
            bearer(agent["access_token"]),
            bearer(admin["access_token"]),
            str(account_id),
            str(agent_id),
        )


def compose_body(account_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "to": [{"name": "Jordan", "email": "jordan@customer.example"}],
        "subject": f"refund {uuid.uuid4().hex[:8]}",
        "text": "Hello Jordan, your refund is on its way.",
    }
    return body | overrides


def recipient_fields(payload: str) -> dict[str, dict[str, Any]]:
    """Each recipient field of a request with the payload in it."""
    fields: dict[str, dict[str, Any]] = {}
    for kind in ("cc", "bcc"):
        fields[f"{kind}-name"] = {kind: [{"name": f"Pat{payload}", "email": "pat@x.example"}]}
        fields[f"{kind}-address"] = {kind: [{"name": "Pat", "email": f"pat@x.example{payload}"}]}
    return fields


def compose_fields(payload: str) -> dict[str, dict[str, Any]]:
    return recipient_fields(payload) | {
        "subject": {"subject": f"refund{payload}"},
        "to-name": {"to": [{"name": f"Jordan{payload}", "email": "jordan@customer.example"}]},
        "to-address": {"to": [{"name": "Jordan", "email": f"jordan@customer.example{payload}"}]},
    }


def refused(response: httpx.Response) -> bool:
    return 400 <= response.status_code < 500


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
async def test_compose_refuses_control_characters(gateway: Gateway, payload: str) -> None:
    """Every header field of a new mail with a control character in it is a 4xx."""
    for field, change in compose_fields(payload).items():
        response = await gateway.http.post(
            "/tickets", json=compose_body(gateway.account_id, **change), headers=gateway.agent
        )
        assert refused(response), (field, response.status_code, response.text)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ticket_id(pipeline: FaultStack) -> str:
    """A customer's ticket on cs@, assigned to john."""
    marker = uuid.uuid4().hex[:12]
    raw = (
        f"From: Carol <carol@customer.example>\r\nTo: {MAILBOX}\r\n"
        f"Subject: my order {marker}\r\nMessage-ID: <{marker}@customer.example>\r\n\r\nWhere?\r\n"
    ).encode()
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await pipeline.post(http, raw)).status_code == 202
    [message] = await eventually(arrived(pipeline, marker), within=30, interval=0.25)
    return message.ticket_id


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
async def test_reply_refuses_control_characters(
    gateway: Gateway, ticket_id: str, payload: str
) -> None:
    """Every recipient field of a reply with a control character in it is a 4xx."""
    for field, change in recipient_fields(payload).items():
        response = await gateway.http.post(
            f"/tickets/{ticket_id}/replies",
            json={"text": "Here you go.", **change},
            headers=gateway.agent,
        )
        assert refused(response), (field, response.status_code, response.text)


async def upload(gateway: Gateway, filename: str) -> httpx.Response:
    """An upload whose file name carries its control characters raw (httpx would escape
    them); a line feed cannot be carried, it would end the part's header line."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\nthe receipt\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    return await gateway.http.post(
        "/uploads",
        content=body,
        headers={**gateway.agent, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


IN_FILE_NAMES = {name: payload for name, payload in PAYLOADS.items() if "\n" not in payload}


@pytest.mark.parametrize("payload", IN_FILE_NAMES.values(), ids=IN_FILE_NAMES.keys())
async def test_upload_file_name_is_neutralised(gateway: Gateway, payload: str) -> None:
    """An attachment's file name keeps no control character."""
    response = await upload(gateway, f"receipt{payload}.txt")
    assert response.status_code == 201, response.text
    assert not CONTROL.search(response.json()["filename"]), response.text


def admin_changes(gateway: Gateway, payload: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """field -> (method, path, body) of each admin change carrying the payload."""
    account = f"/admin/accounts/{gateway.account_id}"
    user = f"/admin/users/{gateway.agent_id}"
    unique = uuid.uuid4().hex[:8]
    return {
        "account-display-name": ("PATCH", account, {"display_name": f"Acme{payload}"}),
        "account-auto-reply-subject": (
            "PATCH",
            account,
            {"auto_reply_subject": f"Thanks{payload}"},
        ),
        "account-address": (
            "POST",
            "/admin/accounts",
            {"address": f"new{unique}{payload}@acme.example"},
        ),
        "user-name": ("PATCH", user, {"full_name": f"John{payload}"}),
        "user-login": (
            "POST",
            "/admin/users",
            {"email": f"u{unique}{payload}@acme.example", "full_name": "U"},
        ),
        "user-company-address": (
            "POST",
            "/admin/users",
            {
                "email": f"v{unique}@acme.example",
                "full_name": "V",
                "company_email": f"v{unique}{payload}@acme.example",
            },
        ),
    }


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
async def test_admin_fields_refuse_or_neutralise_control_characters(
    gateway: Gateway, payload: str
) -> None:
    """Names, subjects and addresses an admin sets are refused (4xx) or stored without the
    control character."""
    for field, (method, path, body) in admin_changes(gateway, payload).items():
        response = await gateway.http.request(method, path, json=body, headers=gateway.admin)
        assert response.status_code < 500, (field, response.status_code, response.text)
        if not refused(response):
            stored = [s for s in strings_in(response.json()) if CONTROL.search(s)]
            assert stored == [], (field, stored)


def sink_holds(pipeline: FaultStack, marker: str) -> Callable[[], Awaitable[bool | None]]:
    """A probe: True once a mail the sink received carries `marker`."""

    async def probe() -> bool | None:
        return any(marker.encode() in raw for raw, _ in sent_mails(pipeline)) or None

    return probe


async def test_nothing_injected_reaches_the_smtp_sink(
    pipeline: FaultStack, gateway: Gateway, ticket_id: str
) -> None:
    """After every attack above: a reply with a signature full of line breaks, a new mail
    with an uploaded attachment and an auto-reply go out, and no mail the sink received has an
    injected header or recipient."""
    signature = f"John{PAYLOADS['CRLF']}\r\nX-Injected: signature"
    for path, field in (
        (f"/admin/users/{gateway.agent_id}", "email_signature"),
        (f"/admin/accounts/{gateway.account_id}", "signature"),
    ):
        response = await gateway.http.patch(path, json={field: signature}, headers=gateway.admin)
        assert response.status_code == 200, response.text
    reply_marker = uuid.uuid4().hex
    response = await gateway.http.post(
        f"/tickets/{ticket_id}/replies",
        json={"text": f"Here you go. {reply_marker}"},
        headers=gateway.agent,
    )
    assert response.status_code == 202, response.text
    uploaded = (await upload(gateway, f"receipt{PAYLOADS['CR']}.txt")).json()["upload_id"]
    compose_marker = uuid.uuid4().hex
    response = await gateway.http.post(
        "/tickets",
        json=compose_body(
            gateway.account_id, text=f"Receipt attached. {compose_marker}", attachments=[uploaded]
        ),
        headers=gateway.agent,
    )
    assert response.status_code == 201, response.text
    stranger = f"s{uuid.uuid4().hex[:8]}@customer.example"
    raw = (
        f"From: {stranger}\r\nTo: {MAILBOX}\r\nSubject: hi\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@customer.example>\r\n\r\nHello\r\n"
    ).encode()
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await pipeline.post(http, raw)).status_code == 202
    for marker in (reply_marker, compose_marker, stranger):
        await eventually(sink_holds(pipeline, marker), within=45, interval=0.25)

    reply = next(m for raw, m in sent_mails(pipeline) if reply_marker.encode() in raw)
    text = reply.get_body(("plain",))
    assert text is not None
    assert "X-Injected: signature" in text.get_content()
    for raw, message in sent_mails(pipeline):
        assert message.get_all("X-Injected") is None, raw[:2000]
        assert message.get_all("Bcc") is None, raw[:2000]
        recipients = " ".join(str(message.get(name, "")) for name in ("To", "Cc", "Reply-To"))
        assert EVIL not in recipients, raw[:2000]
        for name, value in message.items():
            assert not CONTROL.search(str(value)), (name, value)
    assert EVIL not in pipeline.log.getvalue()  # the sink logs every envelope recipient
