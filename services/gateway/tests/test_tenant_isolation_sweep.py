"""Every operation that names a row, called with rows the caller must not reach: 404.

The sweeps read the operations from the app's OpenAPI document, so a new route
joins them by itself: a path id, body field or query filter naming a kind of
row the sweep has no foreign row for fails it until one is seeded here.

Foreign rows: one of every kind in tenant B, each carrying a secret string
that no answer to tenant A may contain, and the ticket, message, attachment
and undoable mail of A's `sales` mailbox, which none of A's non-admin users
may use (the backup's assignment there is inactive). B's ids go into paths
(404), request bodies and query filters (answered as for an id that exists
nowhere). No row of A or B may change meanwhile. `world` (conftest) is this
module's own.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar
from postdesk_runtime import Sessions
from postdesk_schema import (
    ApiToken,
    AssignmentRole,
    Attachment,
    AuditLog,
    Department,
    EmailAssignment,
    EmailProcessingLog,
    ImapMailbox,
    InboundAddress,
    InboundDomain,
    Message,
    Notification,
    OutboundMessage,
    SlaPolicy,
    Tenant,
    Ticket,
    WebhookDelivery,
    WebhookSubscription,
)
from sqlalchemy import select
from sqlmodel import SQLModel

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
Operation = tuple[str, str]  # method, path template

METHODS = ("get", "post", "put", "patch", "delete")
REQUEST_TIMEOUT_SECONDS = 10
# A's users who are not admins; none of them may use A's `sales` mailbox.
NON_ADMINS = ("primary", "backup", "viewer", "unassigned")
# Routes about one ticket or what belongs to one: the mailbox rules apply to them.
TICKET_SCOPED_KINDS = {"ticket_id", "message_id", "attachment_id", "outbound_id"}

# Minimal valid bodies, for an operation whose request model has no example.
FALLBACK_BODIES: dict[Operation, dict[str, Any]] = {
    ("PATCH", "/tickets/{ticket_id}"): {"status": "pending"},
    ("POST", "/tickets/{ticket_id}/merge"): {"into_ticket_id": "<own ticket>"},
    ("POST", "/tickets/{ticket_id}/replies"): {"text": "Thanks, we are on it."},
    ("POST", "/tickets/{ticket_id}/presence"): {"state": "viewing"},
    ("POST", "/tickets/{ticket_id}/notes"): {"body": "Checked with billing."},
    ("PUT", "/admin/departments/{department_id}/managers"): {"user_ids": []},
    ("PATCH", "/admin/webhooks/{subscription_id}"): {"is_active": False},
    ("PATCH", "/admin/users/{user_id}"): {"job_title": "Lead"},
    ("POST", "/admin/users/{user_id}/password"): {"password": "saffron-kettle-meadow-73"},
    ("PATCH", "/admin/departments/{department_id}"): {"description": "Renamed"},
    ("PATCH", "/admin/accounts/{account_id}"): {"display_name": "Renamed"},
    ("PATCH", "/admin/assignments/{assignment_id}"): {"can_delete": True},
    ("PATCH", "/admin/sla-policies/{policy_id}"): {"warning_percent": 75},
    ("PATCH", "/admin/inbound-domains/{domain_id}"): {"catch_all_account_id": None},
    ("PATCH", "/admin/inbound-addresses/{address_id}"): {"is_active": False},
    ("PATCH", "/admin/imap-mailboxes/{mailbox_id}"): {"use_idle": False},
}


# Body and query fields that name a row, by the kind of row (the path parameter's name).
ID_FIELDS = {
    "assignee_id": "user_id",
    "acts_as_user_id": "user_id",
    "owner_user_id": "user_id",
    "actor_user_id": "user_id",
    "user_id": "user_id",
    "user_ids": "user_id",
    "department_id": "department_id",
    "account_id": "account_id",
    "catch_all_account_id": "account_id",
    "from_account_id": "account_id",
    "into_ticket_id": "ticket_id",
    "reassign_to": "user_id",
}
# Fields made unique per request, so that no other module's row refuses a body.
UNIQUE_FIELDS = ("email", "address", "domain")

Ids = dict[str, uuid.UUID]  # by kind: the path parameter's name


@dataclass(frozen=True)
class Foreign:
    """Ids of rows by path parameter name, and the strings no answer may contain."""

    ids: Ids
    secrets: tuple[str, ...]
    # query parameters that name a row by something else than its id (a Message-ID header)
    query_values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    params: tuple[str, ...]
    body_schema: str | None  # component name of the JSON request body, if any
    query: tuple[str, ...] = ()

    @property
    def key(self) -> Operation:
        return self.method, self.path

    def url(self, ids: dict[str, uuid.UUID]) -> str:
        return self.path.format(**{name: ids[name] for name in self.params})


def body_model_ref(body: dict[str, Any]) -> str | None:
    """The model a JSON body names: its $ref, or the one $ref of an optional body (oneOf the
    model and null)."""
    if "$ref" in body:
        return str(body["$ref"])
    refs = [str(choice["$ref"]) for choice in body.get("oneOf", []) if "$ref" in choice]
    return refs[0] if len(refs) == 1 else None


def operations(schema: dict[str, Any]) -> list[Endpoint]:
    """Every operation of the document."""
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            parameters = operation.get("parameters", [])
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            ref = body_model_ref((body or {}).get("schema", {}))
            found.append(
                Endpoint(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in parameters if p["in"] == "path"),
                    ref.rsplit("/", 1)[1] if ref else None,
                    tuple(p["name"] for p in parameters if p["in"] == "query"),
                )
            )
    return found


def endpoints(schema: dict[str, Any]) -> list[Endpoint]:
    """Every operation of the document with a parameter in its path."""
    found = [e for e in operations(schema) if e.params]
    for endpoint in found:
        item = schema["paths"][endpoint.path][endpoint.method.lower()]
        if "requestBody" in item and endpoint.body_schema is None:
            pytest.fail(f"{endpoint.method} {endpoint.path}: request body without a named model")
    return found


def body_for(
    endpoint: Endpoint,
    schema: dict[str, Any],
    own: Ids,
    foreign: tuple[str, uuid.UUID] | None = None,
) -> dict[str, Any] | None:
    """The request model's first example (else the fallback), its ids A's own rows but for
    the one `foreign` (field, id) names."""
    if endpoint.body_schema is None:
        return None
    model = schema["components"]["schemas"][endpoint.body_schema]
    examples = model.get("examples") or []
    if examples:
        body: dict[str, Any] = copy.deepcopy(examples[0])
    elif endpoint.key in FALLBACK_BODIES:
        body = copy.deepcopy(FALLBACK_BODIES[endpoint.key])
    else:
        pytest.fail(f"{endpoint.method} {endpoint.path}: no example and no fallback body")
    for name in id_fields(endpoint, model):
        if foreign is not None and name == foreign[0]:
            value = foreign[1]
        elif name in body or name in model.get("required", []):
            value = own[ID_FIELDS[name]]
        else:
            continue
        body[name] = [str(value)] if name.endswith("_ids") else str(value)
    for name in UNIQUE_FIELDS:
        if isinstance(body.get(name), str):
            body[name] = f"{uuid.uuid4().hex[:8]}-{body[name]}"
    # A made-up id in the body could answer 404 before the path id is looked up.
    known = {str(i) for i in own.values()} | ({str(foreign[1])} if foreign else set())
    if strangers := uuids_in(body) - known:
        pytest.fail(f"{endpoint.method} {endpoint.path}: body names {strangers}; see ID_FIELDS")
    return body


def id_fields(endpoint: Endpoint, model: dict[str, Any]) -> list[str]:
    """The model's fields that name a row; fails on one ID_FIELDS does not know."""
    named = [
        f for f in model.get("properties", {}) if f.endswith(("_id", "_ids")) or f in ID_FIELDS
    ]
    if unknown := [f for f in named if f not in ID_FIELDS]:
        pytest.fail(f"{endpoint.method} {endpoint.path}: add {unknown} to ID_FIELDS")
    return named


def uuids_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {u for v in value.values() for u in uuids_in(v)}
    if isinstance(value, list):
        return {u for v in value for u in uuids_in(v)}
    try:
        return {str(uuid.UUID(value))} if isinstance(value, str) else set()
    except ValueError:
        return set()


@pytest.fixture(scope="module")
def schema(app: Litestar) -> dict[str, Any]:
    return app.openapi_schema.to_schema()


def secret(kind: str, suffix: str) -> str:
    return f"secret-{kind}-{suffix}"


@pytest.fixture(scope="module")
async def foreign_tenant(sessions: Sessions, world: Any) -> Foreign:
    """One row of every kind in tenant B, each with its own secret string."""
    b, s = world.tenant_b, world.suffix
    admin_b, mailbox = world.users["admin_b"], world.accounts["b_support"]
    department = Department(tenant_id=b, name=secret("department", s))
    ticket = Ticket(
        tenant_id=b,
        number=9000,  # far from the numbers seed_world takes
        account_id=mailbox.id,
        subject=secret("ticket", s),
        customer_email=f"{secret('customer', s)}@client.test",
        customer_name=secret("customer-name", s),
        message_count=1,
    )
    message = Message(
        tenant_id=b,
        ticket_id=ticket.id,
        account_id=mailbox.id,
        message_id_header=f"{secret('message-id', s)}@client.test",
        subject=secret("message", s),
        from_email=ticket.customer_email,
        text_body=secret("message-text", s),
        html_body=f"<p>{secret('message-html', s)}</p>",
    )
    attachment = Attachment(
        tenant_id=b,
        message_id=message.id,
        filename=f"{secret('attachment', s)}.pdf",
        content_type="application/pdf",
        size=10,
        blob_ref="sha256:" + "2" * 64,
    )
    now = datetime.now(UTC)
    outbound = OutboundMessage(
        id=uuid.uuid4(),
        tenant_id=b,
        account_id=mailbox.id,
        ticket_id=ticket.id,
        kind="reply",
        status="scheduled",
        subject=secret("outbound", s),
        requested_by=admin_b.id,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    notification = Notification(
        tenant_id=b,
        user_id=admin_b.id,
        kind="ticket.assigned",
        ticket_id=ticket.id,
        title=secret("notification", s),
        source_event_id=uuid.uuid4(),
    )
    subscription = WebhookSubscription(
        tenant_id=b,
        url=f"https://{secret('webhook', s)}.example/hook",
        description=secret("webhook-description", s),
        event_types=["ticket.created"],
        secret_sealed=secret("webhook-sealed", s),
    )
    delivery = WebhookDelivery(
        tenant_id=b,
        subscription_id=subscription.id,
        event_id=uuid.uuid4(),
        event_type="ticket.created",
        payload={"subject": secret("delivery", s)},
        status="failed",
        last_error=secret("delivery-error", s),
    )
    assignment = EmailAssignment(
        tenant_id=b,
        account_id=mailbox.id,
        user_id=admin_b.id,
        role=AssignmentRole.PRIMARY,
        notes=secret("assignment", s),
    )
    policy = SlaPolicy(tenant_id=b, name=secret("sla", s), first_response_minutes=60)
    domain = InboundDomain(tenant_id=b, domain=f"{secret('domain', s)}.example")
    address = InboundAddress(
        tenant_id=b, address=f"{secret('address', s)}@in.example", account_id=mailbox.id
    )
    imap = ImapMailbox(
        tenant_id=b,
        account_id=mailbox.id,
        host=f"{secret('imap', s)}.example",
        username=secret("imap-user", s),
        password_ciphertext=secret("imap-password", s),
    )
    token = ApiToken(
        tenant_id=b,
        name=secret("token", s),
        prefix=f"pdk_{s}",
        token_hash=secret("token-hash", s),
        scopes=["tickets:read"],
        acts_as_user_id=admin_b.id,
    )
    processing = EmailProcessingLog(
        tenant_id=b,
        stage="router",
        dedupe_key=secret("dedupe", s),
        status="routed",
        sha256="4" * 64,
        raw_blob_ref="sha256:" + "4" * 64,
        message_id_header=message.message_id_header,
        event_id=uuid.uuid4(),
        detail=secret("processing", s),
    )
    audit = AuditLog(
        tenant_id=b,
        actor_user_id=admin_b.id,
        action="ticket.updated",
        object_type="ticket",
        object_id=str(ticket.id),
        detail={"note": secret("audit", s)},
    )
    async with sessions() as session, session.begin():
        session.add_all([department, ticket, subscription, policy, domain, imap, token])
        await session.flush()
        session.add_all([message, outbound, notification, delivery, assignment, address])
        await session.flush()
        session.add_all([attachment, processing, audit])
    ids = {
        "ticket_id": ticket.id,
        "message_id": message.id,
        "attachment_id": attachment.id,
        "outbound_id": outbound.id,
        "notification_id": notification.id,
        "department_id": department.id,
        "subscription_id": subscription.id,
        "delivery_id": delivery.id,
        "user_id": admin_b.id,
        "account_id": mailbox.id,
        "assignment_id": assignment.id,
        "policy_id": policy.id,
        "domain_id": domain.id,
        "address_id": address.id,
        "mailbox_id": imap.id,
        "token_id": token.id,
    }
    kinds = (
        "department", "ticket", "customer", "customer-name", "message-id", "message",
        "message-text", "message-html", "attachment", "outbound", "notification", "webhook",
        "webhook-description", "webhook-sealed", "delivery", "delivery-error", "assignment",
        "sla", "domain", "address", "imap", "imap-user", "imap-password", "token", "token-hash",
        "dedupe", "processing", "audit",
    )  # fmt: skip
    return Foreign(
        ids=ids,
        secrets=(*(secret(k, s) for k in kinds), admin_b.email, mailbox.address),
        query_values={
            "message_id": message.message_id_header,
            "event_id": str(processing.event_id),
            "object_id": str(ticket.id),
        },
    )


@pytest.fixture(scope="module")
async def other_mailbox(sessions: Sessions, world: Any) -> Foreign:
    """A message, attachment and undoable mail on A's `sales` ticket, which A's non-admins
    may not use; the mail was requested by A's admin, so undoing is not theirs either."""
    ticket, s = world.tickets["sales_1"], world.suffix
    message = Message(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        account_id=ticket.account_id,
        message_id_header=f"{secret('sales-message-id', s)}@client.test",
        subject=secret("sales-message", s),
        from_email=ticket.customer_email,
        text_body=secret("sales-text", s),
        html_body=f"<p>{secret('sales-html', s)}</p>",
    )
    attachment = Attachment(
        tenant_id=ticket.tenant_id,
        message_id=message.id,
        filename=f"{secret('sales-attachment', s)}.pdf",
        content_type="application/pdf",
        size=10,
        blob_ref="sha256:" + "3" * 64,
    )
    now = datetime.now(UTC)
    outbound = OutboundMessage(
        id=uuid.uuid4(),
        tenant_id=ticket.tenant_id,
        account_id=ticket.account_id,
        ticket_id=ticket.id,
        kind="reply",
        status="scheduled",
        subject=secret("sales-outbound", s),
        requested_by=world.users["admin"].id,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    async with sessions() as session, session.begin():
        session.add_all([message, outbound])
        await session.flush()
        session.add(attachment)
    ids = {
        "ticket_id": ticket.id,
        "message_id": message.id,
        "attachment_id": attachment.id,
        "outbound_id": outbound.id,
        "account_id": ticket.account_id,
    }
    kinds = (
        "sales-message-id", "sales-message", "sales-text", "sales-html", "sales-attachment",
        "sales-outbound",
    )  # fmt: skip
    return Foreign(ids=ids, secrets=(*(secret(k, s) for k in kinds), ticket.customer_email))


@pytest.fixture(scope="module")
async def own(sessions: Sessions, world: Any) -> Ids:
    """A's own rows of every kind a body names or an id-in-body request's path needs."""
    a, s = world.tenant_a, world.suffix
    account = world.accounts["support"]
    department = Department(tenant_id=a, name=f"Own {s}")
    domain = InboundDomain(tenant_id=a, domain=f"own-{s}.example")
    address = InboundAddress(tenant_id=a, address=f"own-{s}@in.example", account_id=account.id)
    async with sessions() as session, session.begin():
        session.add_all([department, domain, address])
    return {
        "ticket_id": world.tickets["support_2"].id,
        "user_id": world.users["primary"].id,
        "account_id": account.id,
        "department_id": department.id,
        "domain_id": domain.id,
        "address_id": address.id,
    }


Snapshot = dict[str, set[str]]


async def snapshot(sessions: Sessions, *tenants: uuid.UUID) -> Snapshot:
    """Every row of the tenants, table by table (rows as text: JSON columns are not hashable)."""
    rows: Snapshot = {}
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name == Tenant.__tablename__:
                column = table.c.id
            elif "tenant_id" in table.c:
                column = table.c.tenant_id
            else:
                continue
            found = await session.execute(select(table).where(column.in_(tenants)))
            rows[table.name] = {repr(tuple(row)) for row in found.all()}
    return rows


async def changes_since(sessions: Sessions, before: Snapshot, *tenants: uuid.UUID) -> list[str]:
    """What was added, removed or changed in the tenants' rows since `before`."""
    after = await snapshot(sessions, *tenants)
    changes = []
    for table, rows in before.items():
        gone, new = rows - after[table], after[table] - rows
        if gone or new:
            example = next(iter(new or gone))[:300]
            changes.append(f"{table}: {len(gone)} rows gone, {len(new)} new, e.g. {example}")
    return changes


def leaks(response: httpx.Response, secrets: tuple[str, ...]) -> list[str]:
    text = (response.content.decode(errors="replace") + str(response.headers)).lower()
    return [s for s in secrets if s.lower() in text]


async def check(
    client: httpx.AsyncClient,
    request: tuple[str, str, Any],
    headers: dict[str, str],
    allowed: set[int],
    secrets: tuple[str, ...],
) -> list[str]:
    """What is wrong with the answer to (method, url, body): status, leaked secrets, silence."""
    method, url, body = request
    sending = client.request(method, url, headers=headers, json=body)
    try:
        response = await asyncio.wait_for(sending, REQUEST_TIMEOUT_SECONDS)
    except TimeoutError:
        return [f"{method} {url}: no answer within {REQUEST_TIMEOUT_SECONDS} s"]
    problems = []
    if response.status_code not in allowed:
        problems.append(f"{response.status_code} {response.text[:200]}")
    if leaked := leaks(response, secrets):
        problems.append(f"leaks {leaked}")
    return [f"{method} {url}: {p}" for p in problems]


async def test_every_path_id_kind_has_a_foreign_object(
    schema: dict[str, Any], foreign_tenant: Foreign
) -> None:
    """A route with a new kind of id joins the sweep: seed a foreign row for it above."""
    swept = endpoints(schema)
    found = {name for endpoint in swept for name in endpoint.params}
    missing = found - foreign_tenant.ids.keys()
    assert not missing, f"path ids the sweep has no foreign object for: {missing}"
    # the document still lists the routes, the event stream among them
    assert len(swept) >= 50
    assert ("GET", "/tickets/{ticket_id}/events") in {e.key for e in swept}


async def test_other_tenants_ids_answer_404(
    client: httpx.AsyncClient,
    sessions: Sessions,
    schema: dict[str, Any],
    world: Any,
    auth: Auth,
    foreign_tenant: Foreign,
    own: Ids,
) -> None:
    """A's admin gets 404 for every id of B; A's primary gets 404, or 403 on admin routes."""
    tenants = world.tenant_a, world.tenant_b
    before = await snapshot(sessions, *tenants)
    failures: list[str] = []
    for endpoint in endpoints(schema):
        request = endpoint.method, endpoint.url(foreign_tenant.ids), body_for(endpoint, schema, own)
        for role in ("admin", "primary"):
            # an admin route may refuse a non-admin before it looks at the id
            admin_only = role != "admin" and endpoint.path.startswith("/admin/")
            allowed = {403, 404} if admin_only else {404}
            found = await check(client, request, auth(role), allowed, foreign_tenant.secrets)
            failures += [f"[{role}] {f}" for f in found]
    failures += await changes_since(sessions, before, *tenants)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["admin", "primary"])
async def test_merging_into_another_tenants_ticket_answers_404(
    client: httpx.AsyncClient,
    sessions: Sessions,
    world: Any,
    auth: Auth,
    foreign_tenant: Foreign,
    role: str,
) -> None:
    """The foreign id in the body, not the path: A's own ticket stays where it is."""
    tenants = world.tenant_a, world.tenant_b
    before = await snapshot(sessions, *tenants)
    url = f"/tickets/{world.tickets['support_1'].id}/merge"
    body = {"into_ticket_id": str(foreign_tenant.ids["ticket_id"])}
    failures = await check(client, ("POST", url, body), auth(role), {404}, foreign_tenant.secrets)
    failures += await changes_since(sessions, before, *tenants)
    assert not failures, "\n".join(failures)


async def test_redelivering_another_tenants_delivery_answers_404(
    client: httpx.AsyncClient,
    sessions: Sessions,
    world: Any,
    auth: Auth,
    foreign_tenant: Foreign,
) -> None:
    """Only the delivery id is foreign: A's own subscription does not reach B's delivery."""
    subscription = WebhookSubscription(
        tenant_id=world.tenant_a,
        url=f"https://hooks-{world.suffix}.example/a",
        event_types=["ticket.created"],
        secret_sealed="sealed",
    )
    async with sessions() as session, session.begin():
        session.add(subscription)
    tenants = world.tenant_a, world.tenant_b
    before = await snapshot(sessions, *tenants)
    delivery = foreign_tenant.ids["delivery_id"]
    url = f"/admin/webhooks/{subscription.id}/deliveries/{delivery}/redeliver"
    failures = await check(
        client, ("POST", url, None), auth("admin"), {404}, foreign_tenant.secrets
    )
    failures += await changes_since(sessions, before, *tenants)
    assert not failures, "\n".join(failures)


async def test_another_mailboxs_ids_answer_404(
    client: httpx.AsyncClient,
    sessions: Sessions,
    schema: dict[str, Any],
    world: Any,
    auth: Auth,
    other_mailbox: Foreign,
    own: Ids,
) -> None:
    """A's non-admins reach no ticket, message, attachment or mail of a mailbox not theirs."""
    scoped = [e for e in endpoints(schema) if set(e.params) <= TICKET_SCOPED_KINDS]
    assert {"/attachments/{attachment_id}", "/outbound/{outbound_id}/cancel"} <= {
        e.path for e in scoped
    }
    before = await snapshot(sessions, world.tenant_a)
    failures: list[str] = []
    for endpoint in scoped:
        request = endpoint.method, endpoint.url(other_mailbox.ids), body_for(endpoint, schema, own)
        for role in NON_ADMINS:
            found = await check(client, request, auth(role), {404}, other_mailbox.secrets)
            failures += [f"[{role}] {f}" for f in found]
    failures += await changes_since(sessions, before, world.tenant_a)
    assert not failures, "\n".join(failures)


async def test_another_mailboxs_ids_in_bodies_are_refused(
    client: httpx.AsyncClient,
    sessions: Sessions,
    schema: dict[str, Any],
    world: Any,
    auth: Auth,
    other_mailbox: Foreign,
    own: Ids,
) -> None:
    """A's non-admins name the `sales` ticket or mailbox in a body (merge into it, write from
    it): refused as if it did not exist, and nothing changes."""
    before = await snapshot(sessions, world.tenant_a)
    failures: list[str] = []
    swept = 0
    for endpoint in operations(schema):
        if endpoint.body_schema is None or endpoint.path.startswith("/admin/"):
            continue
        model = schema["components"]["schemas"][endpoint.body_schema]
        for name in id_fields(endpoint, model):
            if ID_FIELDS[name] not in other_mailbox.ids:
                continue
            foreign = name, other_mailbox.ids[ID_FIELDS[name]]
            request = endpoint.method, endpoint.url(own), body_for(endpoint, schema, own, foreign)
            missing = name, uuid.uuid4()
            ghost = endpoint.method, endpoint.url(own), body_for(endpoint, schema, own, missing)
            swept += 1
            for role in NON_ADMINS:
                allowed = {await status_of(client, ghost, auth(role))} & {400, 403, 404, 422}
                found = await check(client, request, auth(role), allowed, other_mailbox.secrets)
                failures += [f"[{role}] {name}: {f}" for f in found]
    failures += await changes_since(sessions, before, world.tenant_a)
    assert not failures, "\n".join(failures)
    assert swept >= 2  # a new ticket's mailbox, a merge's target


async def test_another_users_notification_answers_404(
    client: httpx.AsyncClient, sessions: Sessions, world: Any, auth: Auth
) -> None:
    """A notification is its user's alone, even for the tenant's admin."""
    title = secret("own-notification", world.suffix)
    notification = Notification(
        tenant_id=world.tenant_a,
        user_id=world.users["primary"].id,
        kind="ticket.assigned",
        ticket_id=world.tickets["support_1"].id,
        title=title,
        source_event_id=uuid.uuid4(),
    )
    async with sessions() as session, session.begin():
        session.add(notification)
    before = await snapshot(sessions, world.tenant_a)
    request = "POST", f"/notifications/{notification.id}/read", None
    failures: list[str] = []
    for role in ("admin", "backup", "viewer", "unassigned"):
        found = await check(client, request, auth(role), {404}, (title,))
        failures += [f"[{role}] {f}" for f in found]
    failures += await changes_since(sessions, before, world.tenant_a)
    assert not failures, "\n".join(failures)


async def status_of(
    client: httpx.AsyncClient, request: tuple[str, str, Any], headers: dict[str, str]
) -> int:
    method, url, body = request
    sending = client.request(method, url, headers=headers, json=body)
    return (await asyncio.wait_for(sending, REQUEST_TIMEOUT_SECONDS)).status_code


async def test_other_tenants_ids_in_bodies_are_refused(
    client: httpx.AsyncClient,
    sessions: Sessions,
    schema: dict[str, Any],
    world: Any,
    auth: Auth,
    foreign_tenant: Foreign,
    own: Ids,
) -> None:
    """Every body field naming a row (assignee, mailbox, department, user...) set to B's row,
    the rest of the request A's own: refused as if the row did not exist, nothing changes."""
    tenants = world.tenant_a, world.tenant_b
    before = await snapshot(sessions, *tenants)
    failures: list[str] = []
    swept = 0
    for endpoint in operations(schema):
        if endpoint.body_schema is None:
            continue
        model = schema["components"]["schemas"][endpoint.body_schema]
        for name in id_fields(endpoint, model):
            foreign = name, foreign_tenant.ids[ID_FIELDS[name]]
            request = endpoint.method, endpoint.url(own), body_for(endpoint, schema, own, foreign)
            missing = name, uuid.uuid4()  # a row that does not exist anywhere
            ghost = endpoint.method, endpoint.url(own), body_for(endpoint, schema, own, missing)
            swept += 1
            for role in ("admin", "primary"):
                # refused (a non-admin maybe before the id is looked at), just like the ghost
                refused = {400, 404, 422} | ({403} if role != "admin" else set())
                allowed = {await status_of(client, ghost, auth(role))} & refused
                found = await check(client, request, auth(role), allowed, foreign_tenant.secrets)
                failures += [f"[{role}] {name}: {f}" for f in found]
    failures += await changes_since(sessions, before, *tenants)
    assert not failures, "\n".join(failures)
    assert swept >= 15  # the document still names rows in bodies


async def test_other_tenants_ids_in_query_filters_find_nothing(
    client: httpx.AsyncClient,
    sessions: Sessions,
    schema: dict[str, Any],
    world: Any,
    auth: Auth,
    foreign_tenant: Foreign,
    own: Ids,
) -> None:
    """A list filtered by B's row (mailbox, department, actor, object, Message-ID) answers as
    for a row that does not exist: it never shows B's rows, nor even the id asked for."""
    tenants = world.tenant_a, world.tenant_b
    before = await snapshot(sessions, *tenants)
    failures: list[str] = []
    swept = 0
    for endpoint in operations(schema):
        for name in endpoint.query:
            if name in foreign_tenant.query_values:
                value = foreign_tenant.query_values[name]
            elif name in ID_FIELDS:
                value = str(foreign_tenant.ids[ID_FIELDS[name]])
            elif name.endswith(("_id", "_ids")):
                pytest.fail(f"{endpoint.method} {endpoint.path}: no foreign value for {name}")
            else:
                continue
            url = f"{endpoint.url(own)}?{httpx.QueryParams({name: value})}"
            body = body_for(endpoint, schema, own)
            ghost_url = f"{endpoint.url(own)}?{httpx.QueryParams({name: str(uuid.uuid4())})}"
            swept += 1
            for role in ("admin", "primary"):
                # as if B's row did not exist: the answer to a made-up id's
                ghost = await status_of(client, (endpoint.method, ghost_url, body), auth(role))
                allowed = {ghost} & {200, 400, 403, 404, 422}
                secrets = (*foreign_tenant.secrets, value)
                found = await check(
                    client, (endpoint.method, url, body), auth(role), allowed, secrets
                )
                failures += [f"[{role}] {f}" for f in found]
    failures += await changes_since(sessions, before, *tenants)
    assert not failures, "\n".join(failures)
    assert swept >= 5  # the document still filters lists by rows
