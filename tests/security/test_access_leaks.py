"""What a user may not see leaks neither through counts nor through old rights or links.

Attacks and pass criteria:
- counts: every list, count, search and analytics answer of each of A's roles is taken, then
  tenant B and a mailbox of A nobody is assigned to get tickets, messages, attachments and
  notifications whose subject is the word searched for: every answer is unchanged (no
  total, sidebar count, figure or hit moves), except the admin's for A's own mailbox, which
  must move (the control that the answers count such rows at all);
- revocation: an admin removes a user's assignment (DELETE /admin/assignments) or makes
  them a viewer (PATCH): the very next request with the same access token, and with an API
  token acting as them, is refused (404 for the mailbox's ticket, message, attachment and
  reply; 403 for a note or a change) and lists drop the ticket;
- attachment links: another tenant's attachment (real bytes in the blob store) by its URL
  with every role's token: 404 and not one byte; an HTML body naming another tenant's
  attachment by its content hash (`postdesk-attachment:<sha256>`, what the parser writes
  for inline images) does not embed that tenant's copy; another user's or tenant's
  upload_id in a reply: 400 and nothing sent; attachment ids are random (uuid4).
"""

from __future__ import annotations

import base64
import hashlib
import uuid

import httpx
import pytest
import pytest_asyncio
from postdesk_contracts.api_access import ApiScope
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, make_blob_store
from postdesk_schema import Attachment, AuditLog, Message
from postdesk_testing.gateway_login import bearer, session_of
from sqlmodel import col, func, select

from tests.security.access_world import ROLES, AccessWorld, build_world

pytestmark = pytest.mark.integration

SEARCH_WORD = "zanzibarquokka"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    sessions: Sessions, client: httpx.AsyncClient, settings: GatewaySettings
) -> AccessWorld:
    return await build_world(sessions, client, make_blob_store(settings))


def counting_urls(world: AccessWorld, account_id: uuid.UUID, department_id: uuid.UUID) -> list[str]:
    return [
        "/tickets",
        "/tickets?view=all",
        f"/tickets?q={SEARCH_WORD}",
        "/tickets?unread_only=true",
        "/tickets/counts",
        "/notifications",
        "/notifications/unread-count",
        "/analytics/me",
        "/analytics/me/export.csv",
        f"/analytics/accounts/{account_id}",
        f"/analytics/departments/{department_id}",
        "/admin/users",
        "/admin/accounts",
    ]


async def answers(
    client: httpx.AsyncClient, world: AccessWorld, urls: list[str]
) -> dict[tuple[str, str], tuple[int, str]]:
    found = {}
    for role in ROLES:
        for url in urls:
            response = await client.get(url, headers=world.headers(role))
            found[role, url] = (response.status_code, response.text)
    return found


async def test_counts_do_not_move_for_rows_the_caller_cannot_see(
    client: httpx.AsyncClient, world: AccessWorld
) -> None:
    """B's rows change nobody's answers; an unstaffed mailbox's only the admin's. (The audit
    log is left out: the calls themselves write to it.)"""
    own = await world.targets(world.a, staffed=True)
    urls = counting_urls(world, own.ids["account_id"], own.ids["department_id"])
    before = await answers(client, world, urls)
    assert before["viewer", "/tickets/counts"][0] == 200
    await world.targets(world.b, staffed=False, marker=SEARCH_WORD, notified=None)
    after_foreign = await answers(client, world, urls)
    await world.targets(world.a, staffed=False, marker=SEARCH_WORD, notified=None)
    after_unstaffed = await answers(client, world, urls)
    moved = [
        f"B's rows moved [{r}] {u}" for (r, u), a in after_foreign.items() if a != before[r, u]
    ]
    moved += [
        f"an unstaffed mailbox moved [{r}] {u}: {before[r, u][1][:150]} -> {a[1][:150]}"
        for (r, u), a in after_unstaffed.items()
        if r != "admin" and a != before[r, u]
    ]
    assert not moved, "\n".join(moved)
    admin_moved = {u for u in urls if after_unstaffed["admin", u] != before["admin", u]}
    assert {"/tickets/counts", f"/tickets?q={SEARCH_WORD}", "/admin/accounts"} <= admin_moved


async def test_a_revoked_assignment_is_refused_on_the_next_request(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld
) -> None:
    """Removed: 404 everywhere at once, session and API token alike; made a viewer: 403 for
    writes, reads still allowed."""
    rows = await world.targets(world.a, staffed=False)
    user = world.user(world.a.id, "revoked")
    async with sessions() as session, session.begin():
        session.add(user)
    headers = bearer((await session_of(client, user.email))["access_token"])
    token_headers = bearer(await world.api_token_for(user.id, list(ApiScope)))
    admin = world.headers("admin")
    created = await client.post(
        "/admin/assignments",
        headers=admin,
        json={"account_id": str(rows.ids["account_id"]), "user_id": str(user.id), "role": "backup"},
    )
    assert created.status_code == 201, created.text
    assignment = created.json()["id"]
    ticket = rows.ids["ticket_id"]
    reads = [
        f"/tickets/{ticket}",
        f"/tickets/{ticket}/history",
        f"/tickets/{ticket}/notes",
        f"/messages/{rows.ids['message_id']}/html",
        f"/attachments/{rows.ids['attachment_id']}",
    ]
    for who in (headers, token_headers):
        assert [(await client.get(u, headers=who)).status_code for u in reads] == [200] * 5
        assert str(ticket) in (await client.get("/tickets", headers=who)).text
    note = {"body": "still here?"}
    assert (await client.post(f"/tickets/{ticket}/notes", headers=headers, json=note)).is_success

    demoted = await client.patch(
        f"/admin/assignments/{assignment}",
        headers=admin,
        json={"role": "viewer", "can_send": False},
    )
    assert demoted.status_code == 200, demoted.text
    for who in (headers, token_headers):
        assert (
            await client.post(f"/tickets/{ticket}/notes", headers=who, json=note)
        ).status_code == 403
        change = await client.patch(f"/tickets/{ticket}", headers=who, json={"status": "pending"})
        assert change.status_code == 403
        assert (await client.get(reads[0], headers=who)).status_code == 200

    removed = await client.delete(f"/admin/assignments/{assignment}", headers=admin)
    assert removed.is_success, removed.text
    for who in (headers, token_headers):
        assert [(await client.get(u, headers=who)).status_code for u in reads] == [404] * 5
        reply = await client.post(f"/tickets/{ticket}/replies", headers=who, json={"text": "hi"})
        assert reply.status_code == 404
        listed = await client.get("/tickets", headers=who)
        assert listed.status_code == 200
        assert str(ticket) not in listed.text
        assert rows.marker not in (await client.get(f"/tickets?q={rows.marker}", headers=who)).text


async def test_another_tenants_attachment_is_404_by_url_for_every_role(
    client: httpx.AsyncClient, world: AccessWorld
) -> None:
    """The URL of B's attachment, whose bytes are stored, with each of A's tokens: 404."""
    foreign = await world.targets(world.b, staffed=False)
    url = f"/attachments/{foreign.ids['attachment_id']}"
    b_admin = bearer((await session_of(client, world.b.users["admin"].email))["access_token"])
    served = await client.get(url, headers=b_admin)
    assert served.status_code == 200  # the control: the URL works for its own tenant
    assert foreign.marker.encode() in served.content
    for role in ROLES:
        response = await client.get(url, headers=world.headers(role))
        assert response.status_code == 404, role
        assert foreign.marker.encode() not in response.content


async def test_a_content_hash_does_not_reach_another_tenants_copy(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld
) -> None:
    """A's mail names B's image by its sha256, as the parser writes inline images: the
    served HTML carries no image data; naming A's own attachment the same way does."""
    image = b"GIF89a" + uuid.uuid4().bytes  # B's private picture
    foreign = await world.targets(world.b, staffed=False)
    own = await world.targets(world.a, staffed=True)
    digest = hashlib.sha256(image).hexdigest()
    ref = await world.blobs.put(image)
    mine = await world.targets(world.a, staffed=True)
    async with sessions() as session, session.begin():
        session.add(
            Attachment(
                tenant_id=world.b.id, message_id=foreign.ids["message_id"], filename="b.gif",
                content_type="image/gif", size=len(image), blob_ref=ref, inline=True,
            )
        )  # fmt: skip
        for rows, name in ((own, "own-message"), (mine, "mine")):
            session.add(
                Message(
                    tenant_id=world.a.id, ticket_id=rows.ids["ticket_id"],
                    account_id=rows.ids["account_id"], message_id_header=f"{uuid.uuid4()}@t",
                    subject=name, from_email="x@client.test",
                    html_body=f'<p><img src="postdesk-attachment:{digest}"></p>',
                )
            )  # fmt: skip
    encoded = base64.b64encode(image).decode()
    html_of = {}
    async with sessions() as session:
        for rows in (own, mine):
            message = await session.scalar(
                select(Message).where(
                    col(Message.ticket_id) == rows.ids["ticket_id"],
                    col(Message.html_body).contains(digest),
                )
            )
            assert message is not None
            html_of[rows.marker] = message.id
    # the control: A's own copy of the same picture, on the message, is embedded
    async with sessions() as session, session.begin():
        session.add(
            Attachment(
                tenant_id=world.a.id, message_id=html_of[mine.marker], filename="a.gif",
                content_type="image/gif", size=len(image), blob_ref=ref, inline=True,
            )
        )  # fmt: skip
    for role in ("admin", "primary"):
        response = await client.get(
            f"/messages/{html_of[own.marker]}/html", headers=world.headers(role)
        )
        assert response.status_code == 200
        assert encoded not in response.text
    embedded = await client.get(
        f"/messages/{html_of[mine.marker]}/html", headers=world.headers("primary")
    )
    assert encoded in embedded.text


async def test_upload_ids_work_only_for_their_uploader(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld
) -> None:
    """B's upload_id, or A's primary's, in a reply of A's backup: 400 and no mail queued."""
    rows = await world.targets(world.a, staffed=True)
    b_admin = bearer((await session_of(client, world.b.users["admin"].email))["access_token"])
    files = {"file": ("secret.txt", b"not yours", "text/plain")}
    stolen = [
        (await client.post("/uploads", headers=who, files=files)).json()["upload_id"]
        for who in (b_admin, world.headers("primary"))
    ]
    ticket = rows.ids["ticket_id"]
    queued = await replies_queued(sessions, ticket)
    for upload_id in stolen:
        reply = await client.post(
            f"/tickets/{ticket}/replies",
            headers=world.headers("backup"),
            json={"text": "see attached", "attachments": [upload_id]},
        )
        assert reply.status_code == 400, reply.text
    assert await replies_queued(sessions, ticket) == queued
    own = (await client.post("/uploads", headers=world.headers("backup"), files=files)).json()
    sent = await client.post(
        f"/tickets/{ticket}/replies",
        headers=world.headers("backup"),
        json={"text": "see attached", "attachments": [own["upload_id"]]},
    )
    assert sent.is_success, sent.text  # the control: the uploader's own id works
    assert await replies_queued(sessions, ticket) == queued + 1


async def replies_queued(sessions: Sessions, ticket_id: uuid.UUID) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).where(
                col(AuditLog.object_id) == str(ticket_id),
                col(AuditLog.action) == "ticket.reply_requested",
            )
        )
    return int(found or 0)


def test_attachment_ids_are_random() -> None:
    """Ids are version 4 UUIDs: nothing in one tells the next (no counter, time or hash)."""
    ids = [
        Attachment(
            tenant_id=uuid.uuid4(), message_id=uuid.uuid4(), filename="a", content_type="a/b",
            size=1, blob_ref="sha256:" + "0" * 64,
        ).id
        for _ in range(50)
    ]  # fmt: skip
    assert {i.version for i in ids} == {4}
    assert len({i.hex[:12] for i in ids}) == len(ids)  # no shared time prefix


async def test_list_filters_naming_an_unassigned_mailbox_find_nothing(
    client: httpx.AsyncClient, world: AccessWorld
) -> None:
    """The ticket list filtered by a mailbox the caller is not on (A's unstaffed one, B's), or
    searched for its subject: nothing of it for non-admins; A's admin finds A's (control)."""
    unstaffed = await world.targets(world.a, staffed=False)
    foreign = await world.targets(world.b, staffed=False)
    urls = {
        rows.marker: [
            f"/tickets?account_id={rows.ids['account_id']}",
            f"/tickets?account_id={rows.ids['account_id']}&view=all",
            f"/tickets?q={rows.marker}",
            f"/tickets?q={rows.marker}&account_id={rows.ids['account_id']}",
        ]
        for rows in (unstaffed, foreign)
    }
    failures = []
    for role in ROLES:
        for marker, listed in urls.items():
            for url in listed:
                response = await client.get(url, headers=world.headers(role))
                shown = marker in response.text
                should = role == "admin" and marker == unstaffed.marker
                if shown != should:
                    failures.append(f"[{role}] {url}: {response.status_code} shown={shown}")
    assert not failures, "\n".join(failures)
