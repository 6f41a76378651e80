"""Seeds a large inbox for the gateway bench: one tenant, `--accounts` mailboxes, `--users`
agents and `--tickets` tickets with their mail, in set-based SQL (INSERT ... SELECT
generate_series), so a million tickets take minutes, not hours.

The database (`postdesk_bench_gateway` on the server of `--database-url`) is created and
migrated when it does not exist, emptied and seeded again with `--reseed`, dropped with
`--drop`; otherwise an existing seed of the same size is kept (and migrated to the latest
revision), so the gateway bench can run again against it after a new migration.

Shape (deterministic: `setseed`):
- 8 departments; users 0-4 are tenant admins, the others members, each in a department.
- Mailboxes 0-899 are shared (in a department), 900-999 personal (of users 0-99).
- Every member holds 5-50 active assignments on shared mailboxes, roles mixed
  (2 in 10 primary, 4 backup, 4 viewer); users 0-99 are primary on their personal one.
- Tickets arrive evenly over two years; busier mailboxes get more (a power law), 5% go
  to personal mailboxes. Tickets of the last 14 days are mostly open or pending, older
  ones mostly closed. Priority, 0-2 tags of 30, sentiment, 85% assigned to a non-viewer
  of the mailbox. Each has the customer's message (25-65 words drawn Zipf-like from a
  support vocabulary, with the product, an order number `ord-<number>` and the
  customer's name); answered ones (resolved, closed, most pending) the agent's reply.
- SLA clocks (first response, resolution) on tickets of the last 60 days, some warned or
  breached; the assignee has read each resolved or closed ticket of theirs.

    uv run python bench/gateway_seed.py [--tickets 1000000] [--reseed | --drop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from argon2 import PasswordHasher
from postdesk_schema.migrate import migrate

DATABASE = "postdesk_bench_gateway"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-gateway-password"  # noqa: S105  # every seeded user's, loopback bench only
ADMINS = 5
PERSONAL_FROM = 900  # mailboxes from this index on are personal
PERSONAL_OWNERS = 100
DOMAIN = "bench-gateway.example"

DEPARTMENTS = ["Support", "Billing", "Sales", "Technical", "Onboarding", "Returns", "VIP", "Ops"]
FIRST_NAMES = [
    "anna", "ben", "carla", "david", "elena", "farid", "greta", "hugo", "ines", "jonas",
    "karin", "luis", "maria", "nils", "olga", "pablo", "quinn", "rosa", "sven", "tara",
    "uwe", "vera", "wim", "xenia", "yusuf", "zoe", "amir", "bea", "chen", "dana",
]  # fmt: skip
LAST_NAMES = [
    "adams", "becker", "costa", "dubois", "evans", "fischer", "garcia", "hansen", "ito",
    "jensen", "kowalski", "larsen", "meyer", "novak", "olsen", "petrov", "quast", "rossi",
    "schmidt", "tanaka", "unger", "vogel", "weber", "xu", "young", "zimmer", "baker", "cohen",
    "diaz", "eriksen", "fuchs", "gruber", "horvat", "ivanova", "janssen", "keller",
]  # fmt: skip
CUSTOMER_DOMAINS = [
    "example.com", "mail.example.org", "corp.example.net", "shop.example", "acme.example",
    "globex.example", "initech.example", "umbrella.example", "hooli.example", "stark.example",
]  # fmt: skip
PRODUCTS = [
    "Nimbus", "Ledger", "Courier", "Beacon", "Harbor", "Quill", "Orbit", "Pantry", "Relay",
    "Summit", "Tandem", "Vault",
]  # fmt: skip
SUBJECTS = [
    "Cannot log in to {p}", "Password reset mail never arrives", "Invoice for {o} is wrong",
    "Refund request for order {o}", "{p} crashes when exporting", "Feature request for {p}",
    "API error 500 in {p}", "How do I add a user to {p}?", "Urgent: {p} is down",
    "Change the delivery address of {o}", "Single sign-on stopped working",
    "Question about pricing", "Export is missing columns", "{p} sync stuck",
    "Please cancel my subscription", "Two-factor codes rejected", "Upgrade our {p} plan",
    "Webhooks delayed by hours", "Upload fails with an error", "License key not accepted",
    "Report totals do not match", "Charged twice for {o}", "Attachment too large",
    "{p} is very slow today", "No notifications from {p}", "Data deletion request",
    "Where is my order {o}?", "Damaged item in {o}", "Wrong size delivered for {o}",
    "Trial extension for {p}",
]  # fmt: skip
# The customers' words, most frequent first: a draw picks early words far more often.
WORDS = [
    "the", "i", "to", "and", "a", "is", "it", "we", "my", "of", "in", "not", "for", "our", "this",
    "on", "have", "with", "you", "that", "can", "but", "are", "please", "error", "again", "since",
    "when", "from", "does", "after", "account", "login", "page", "order", "invoice", "help",
    "thanks", "issue", "problem", "working", "today", "team", "users", "email", "message",
    "still", "shows", "only", "would", "could", "what", "how", "why", "customer", "support",
    "update", "version", "browser", "mobile", "app", "phone", "screen", "button", "click", "save",
    "export", "import", "report", "payment", "charge", "refund", "card", "billing", "plan",
    "subscription", "price", "upgrade", "cancel", "password", "reset", "code", "link", "access",
    "admin", "settings", "permission", "role", "data", "file", "upload", "download", "attachment",
    "sync", "server", "timeout", "slow", "crash", "blank", "loading", "network", "connection",
    "firewall", "proxy", "delivery", "shipping", "address", "package", "tracking", "return",
    "exchange", "damaged", "missing", "wrong", "size", "colour", "replacement", "warehouse",
    "courier", "label", "weekend", "monday", "friday", "urgent", "asap", "deadline", "quarter",
    "month-end", "migration", "integration", "webhook", "endpoint", "token", "certificate",
    "expired", "renewal", "license", "seat", "contract", "discount", "quote", "tax", "vat",
    "receipt", "statement", "bank", "transfer", "currency", "region", "language", "timezone",
    "calendar", "reminder", "notification", "spam", "folder", "inbox", "filter", "rule",
    "duplicate", "merge", "archive", "search", "dashboard", "chart", "widget", "column",
    "spreadsheet", "csv", "pdf", "printer", "scanner", "keyboard", "laptop", "tablet", "android",
    "iphone", "windows", "macos", "linux", "chrome", "firefox", "safari", "edge", "cache",
    "cookie", "session", "logout", "locked", "blocked", "disabled", "verify", "verification",
    "identity", "document", "gdpr", "privacy", "consent", "unsubscribe", "newsletter", "feedback",
    "suggestion", "feature", "roadmap", "beta", "release", "changelog", "outage", "incident",
    "status", "maintenance", "backup", "restore", "history", "audit", "compliance", "onboarding",
    "training", "webinar", "documentation", "tutorial", "article", "knowledge", "tooltip",
    "wizard", "template", "signature", "footer", "logo", "branding", "domain", "dns", "mx", "spf",
    "dkim", "bounce", "quota", "storage", "limit",
]  # fmt: skip
AGENT_WORDS = [
    "thank", "you", "for", "reaching", "out", "we", "have", "looked", "into", "this", "and",
    "fixed", "the", "issue", "on", "our", "side", "please", "try", "again", "let", "us", "know",
    "if", "it", "still", "happens", "your", "refund", "was", "issued", "today", "the", "invoice",
    "was", "corrected", "a", "new", "link", "is", "on", "its", "way", "we", "escalated", "this",
    "to", "our", "engineers", "the", "update", "is", "live", "now", "clear", "your", "cache",
    "sign", "out", "and", "in", "again", "we", "have", "extended", "your", "trial", "the",
    "order", "ships", "tomorrow", "tracking", "follows", "by", "mail", "sorry", "for", "the",
    "trouble", "kind", "regards",
]  # fmt: skip
TAGS = [
    "billing", "refund", "login", "bug", "feature-request", "vip", "shipping", "returns",
    "api", "sso", "mobile", "export", "invoice", "cancel", "upgrade", "outage", "gdpr",
    "damaged", "tracking", "password", "sync", "performance", "notifications", "trial",
    "license", "integration", "webhook", "pricing", "onboarding", "escalated",
]  # fmt: skip


@dataclass(frozen=True)
class Size:
    tickets: int
    accounts: int
    users: int


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def user_email(index: int) -> str:
    return f"agent-{index}@{DOMAIN}"


def database_url(admin_url: str = ADMIN_URL, name: str = DATABASE) -> str:
    return with_database(admin_url, name)


async def _database_exists(admin_url: str, name: str) -> bool:
    conn = await asyncpg.connect(admin_url)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _create(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(admin_url, name)
    await asyncio.to_thread(migrate, url)
    return url


async def drop(admin_url: str, name: str = DATABASE) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def seeded_size(url: str) -> Size | None:
    """The size of the seed in the database at `url`, or None when it holds none."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM tickets) AS tickets,"
            " (SELECT count(*) FROM email_accounts) AS accounts,"
            " (SELECT count(*) FROM users) AS users"
        )
    finally:
        await conn.close()
    assert row is not None
    return Size(row["tickets"], row["accounts"], row["users"]) if row["tickets"] else None


_PEOPLE = [
    """
    INSERT INTO tenants (id, name, slug, next_ticket_number, settings, created_at)
    VALUES ($1, 'Bench gateway', 'bench-gateway', $2 + 1, '{}', now() - interval '2 years')
    """,
    """
    INSERT INTO departments (id, tenant_id, name, description, routing_strategy, created_at)
    SELECT gen_random_uuid(), $1, d, '', 'primary', now() - interval '2 years'
    FROM unnest($2::text[]) AS d
    """,
    """
    INSERT INTO users (id, tenant_id, email, password_hash, full_name, role, department_id,
        email_signature, job_title, timezone, notification_preferences, working_hours,
        is_active, created_at)
    SELECT gen_random_uuid(), $1, 'agent-' || u || '@' || $2, $3,
        initcap(($4::text[])[1 + u % 30]) || ' ' || initcap(($5::text[])[1 + (u / 30) % 36]),
        CASE WHEN u < $6 THEN 'admin' ELSE 'member' END,
        (SELECT id FROM departments ORDER BY name OFFSET u % 8 LIMIT 1),
        '', 'Agent', 'UTC', '{}', '{}', true, now() - interval '2 years'
    FROM generate_series(0, $7 - 1) AS u
    """,
]

# Indexes (other than keys) built after the bulk load instead of row by row.
_BULK_TABLES = ("tickets", "messages", "sla_timers", "ticket_reads")


# (label, SQL) in order; they read the temporary tables `bench_*` and the parameters of `seed`.
_STATEMENTS = [
    (
        "accounts",
        """
            CREATE TEMP TABLE bench_accounts AS
            SELECT a, gen_random_uuid() AS id,
                CASE WHEN a < :personal_from THEN (SELECT id FROM departments
                    ORDER BY name OFFSET a % 8 LIMIT 1) END AS department_id,
                CASE WHEN a >= :personal_from THEN (SELECT id FROM bench_users
                    WHERE u = (a - :personal_from) % :personal_owners) END AS owner
            FROM generate_series(0, :last_account) AS a;
            INSERT INTO email_accounts (id, tenant_id, address, display_name, kind,
                department_id, owner_user_id, signature, auto_reply_enabled,
                auto_reply_message, is_active, created_at)
            SELECT id, :tenant,
                CASE WHEN owner IS NULL THEN 'support-' || a ELSE 'personal-' || a END
                    || '@' || :domain,
                'Mailbox ' || a, CASE WHEN owner IS NULL THEN 'shared' ELSE 'personal' END,
                department_id, owner, '', false, '', true, now() - interval '2 years'
            FROM bench_accounts
            """,
    ),
    (
        "assignments",
        """
            CREATE TEMP TABLE bench_assignments AS
            SELECT DISTINCT ON (acc.id, bu.id) acc.id AS account_id, bu.id AS user_id,
                CASE WHEN (bu.u + j) % 10 < 2 THEN 'primary'
                     WHEN (bu.u + j) % 10 < 6 THEN 'backup' ELSE 'viewer' END AS role
            FROM bench_users bu
            CROSS JOIN LATERAL generate_series(0, 4 + (bu.u * 37) % 46) AS j
            JOIN bench_accounts acc ON acc.a = (bu.u * 7 + j * 13) % :personal_from
            WHERE bu.u >= :admins
            UNION ALL
            SELECT id, owner, 'primary' FROM bench_accounts WHERE owner IS NOT NULL;
            INSERT INTO email_assignments (id, tenant_id, account_id, user_id, role, can_send,
                can_receive, can_delete, can_assign_others, notify_on_receive,
                notify_on_reply, notify_on_mention, priority, is_active, notes, created_at)
            SELECT gen_random_uuid(), :tenant, account_id, user_id, role, role <> 'viewer',
                true, false, role = 'primary', true, true, true, 0, true, '',
                now() - interval '2 years'
            FROM bench_assignments;
            CREATE TEMP TABLE bench_agents AS
            SELECT acc.a, acc.id, acc.department_id,
                coalesce(array_agg(s.user_id ORDER BY s.user_id)
                    FILTER (WHERE s.role <> 'viewer'), '{}') AS agents
            FROM bench_accounts acc LEFT JOIN bench_assignments s ON s.account_id = acc.id
            GROUP BY acc.a, acc.id, acc.department_id;
            CREATE UNIQUE INDEX ON bench_agents (a)
            """,
    ),
    (
        "tickets",
        """
            SELECT setseed(0.42);
            CREATE TEMP TABLE bench_draws AS
            SELECT t, random() AS r_account, random() AS r_personal, random() AS r_status,
                random() AS r_priority, random() AS r_tag1, random() AS r_tag2,
                random() AS r_sentiment, random() AS r_assigned, random() AS r_agent,
                random() AS r_customer, random() AS r_subject, random() AS r_product,
                random() AS r_response, random() AS r_resolution, random() AS r_jitter
            FROM generate_series(0, :last_ticket) AS t;
            INSERT INTO tickets (id, tenant_id, number, account_id, department_id, subject,
                customer_email, customer_name, status, priority, assignee_id,
                assignment_rule, handled_by, first_responded_at, resolved_at,
                response_minutes, resolution_minutes, tags, sentiment, message_count,
                reopened_count, last_customer_message_at, last_agent_reply_at, closed_at,
                created_at, updated_at, last_message_at)
            SELECT gen_random_uuid(), :tenant, t + 1, ag.id, ag.department_id,
                replace(replace((CAST(:subjects AS text[]))[1 + floor(r_subject * :n_subjects)::int],
                    '{p}', pr), '{o}', 'ord-' || (t + 1)),
                lower(fn) || '.' || lower(ln) || c || '@'
                    || (CAST(:domains AS text[]))[1 + c % :n_domains],
                initcap(fn) || ' ' || initcap(ln), st, pri, assignee,
                CASE WHEN assignee IS NULL THEN '' ELSE 'round_robin' END,
                CASE WHEN answered THEN assignee END, replied, resolved,
                CASE WHEN answered THEN response_min END,
                CASE WHEN resolved IS NOT NULL THEN resolution_min END,
                array_remove(ARRAY[
                    CASE WHEN r_tag1 < 0.7 THEN (CAST(:tags AS text[]))[1 + floor(r_tag1 / 0.7 * 30)::int] END,
                    CASE WHEN r_tag2 < 0.25 THEN (CAST(:tags AS text[]))[1 + floor(r_tag2 / 0.25 * 30)::int] END
                ], NULL),
                CASE WHEN r_sentiment < 0.3 THEN NULL WHEN r_sentiment < 0.5 THEN 'positive'
                     WHEN r_sentiment < 0.8 THEN 'neutral' ELSE 'negative' END,
                CASE WHEN answered THEN 2 ELSE 1 END, 0, created, replied,
                CASE WHEN st = 'closed' THEN resolved + interval '3 days' END,
                created, coalesce(resolved, replied, created), coalesce(replied, created)
            FROM bench_draws
            CROSS JOIN LATERAL (SELECT
                CASE WHEN r_personal < 0.05
                     THEN :personal_from + floor(r_account * :personal_accounts)::int
                     ELSE floor(power(r_account, 1.6) * :personal_from)::int END AS a,
                CAST(:newest AS timestamptz) - (:tickets - t) * (interval '730 days' / :tickets)
                    - r_jitter * interval '40 minutes' AS created,
                floor(r_customer * 200000)::int AS c,
                (CAST(:products AS text[]))[1 + floor(r_product * :n_products)::int] AS pr,
                (CAST(:first_names AS text[]))[1 + floor(r_customer * 200000)::int % 30] AS fn,
                (CAST(:last_names AS text[]))[1 + (floor(r_customer * 200000)::int / 30) % 36] AS ln,
                CASE WHEN r_priority < 0.2 THEN 'low' WHEN r_priority < 0.8 THEN 'normal'
                     WHEN r_priority < 0.95 THEN 'high' ELSE 'urgent' END AS pri,
                (5 + floor(power(r_response, 2) * 2000))::int AS response_min,
                (60 + floor(power(r_resolution, 2) * 10000))::int AS resolution_min
            ) AS x
            JOIN bench_agents ag ON ag.a = x.a
            CROSS JOIN LATERAL (SELECT
                CASE WHEN x.created > CAST(:newest AS timestamptz) - interval '14 days' THEN
                    CASE WHEN r_status < 0.45 THEN 'open' WHEN r_status < 0.7 THEN 'pending'
                         WHEN r_status < 0.85 THEN 'resolved' ELSE 'closed' END
                ELSE
                    CASE WHEN r_status < 0.86 THEN 'closed' WHEN r_status < 0.96 THEN 'resolved'
                         WHEN r_status < 0.985 THEN 'open' ELSE 'pending' END
                END AS st,
                CASE WHEN r_assigned < 0.85 AND cardinality(ag.agents) > 0
                     THEN ag.agents[1 + floor(r_agent * cardinality(ag.agents))::int] END AS assignee
            ) AS y
            CROSS JOIN LATERAL (SELECT st <> 'open' AS answered) AS z
            CROSS JOIN LATERAL (SELECT
                CASE WHEN answered THEN least(x.created + response_min * interval '1 minute',
                    CAST(:newest AS timestamptz)) END AS replied,
                CASE WHEN st IN ('resolved', 'closed') THEN least(x.created
                    + greatest(resolution_min, response_min + 1) * interval '1 minute',
                    CAST(:newest AS timestamptz)) END AS resolved
            ) AS w;
            UPDATE tenants SET next_ticket_number = :tickets + 1 WHERE id = :tenant
            """,
    ),
    (
        "messages",
        """
            INSERT INTO messages (id, tenant_id, ticket_id, account_id, direction,
                message_id_header, in_reply_to, "references", subject, from_email, from_name,
                "to", cc, text_body, text_preview, raw_blob_ref, sha256, classification,
                match_rule, delivery_status, delivery_failure, received_at, created_at)
            SELECT gen_random_uuid(), k.tenant_id, k.id, k.account_id, 'inbound',
                'in-' || k.number || '@mail.customer.example', '{}', '{}', k.subject,
                k.customer_email, k.customer_name, '[]', '[]', body, left(body, 200), '', '',
                '{}', 'new', '', '', k.created_at, k.created_at
            FROM tickets k
            CROSS JOIN LATERAL (SELECT 'Hello, ' || (SELECT string_agg(
                    (CAST(:words AS text[]))[1 + floor(power(random(), 2.5) * :n_words)::int], ' ')
                    FROM generate_series(1, 25 + (k.number % 41)::int))
                || '. It is about: ' || k.subject || ' (ord-' || k.number || ')'
                || '. Regards, ' || k.customer_name AS body) AS b;
            INSERT INTO messages (id, tenant_id, ticket_id, account_id, direction,
                message_id_header, in_reply_to, "references", subject, from_email, from_name,
                "to", cc, text_body, text_preview, raw_blob_ref, sha256, classification,
                match_rule, delivery_status, delivery_failure, sent_at, created_at)
            SELECT gen_random_uuid(), k.tenant_id, k.id, k.account_id, 'outbound',
                'out-' || k.number || '@postdesk.example',
                ARRAY['in-' || k.number || '@mail.customer.example'],
                ARRAY['in-' || k.number || '@mail.customer.example'], 'Re: ' || k.subject,
                'support@bench-gateway.example', 'Support', '[]', '[]', body, left(body, 200),
                '', '', '{}', '', 'sent', '', k.first_responded_at, k.first_responded_at
            FROM tickets k
            CROSS JOIN LATERAL (SELECT 'Hi ' || k.customer_name || ', ' || (SELECT string_agg(
                    (CAST(:agent_words AS text[]))[1 + floor(random() * :n_agent_words)::int], ' ')
                    FROM generate_series(1, 15 + (k.number % 21)::int)) AS body) AS b
            WHERE k.first_responded_at IS NOT NULL
            """,
    ),
    (
        "sla",
        """
            INSERT INTO sla_policies (id, tenant_id, name, first_response_minutes,
                resolution_minutes, business_hours, timezone, working_hours, holidays,
                warning_percent, is_active, created_at)
            VALUES (gen_random_uuid(), :tenant, 'Standard', 240, 2880, false, 'UTC', '{}', '{}',
                80, true, now() - interval '2 years');
            INSERT INTO sla_timers (id, tenant_id, ticket_id, policy_id, target, state,
                started_at, due_at, warn_at, paused_at, warned_at, breached_at, stopped_at,
                updated_at)
            SELECT gen_random_uuid(), k.tenant_id, k.id, p.id, target.name,
                CASE WHEN done IS NOT NULL THEN 'stopped'
                     WHEN k.status = 'pending' THEN 'paused' ELSE 'running' END,
                k.created_at, due, warn,
                CASE WHEN done IS NULL AND k.status = 'pending' THEN k.last_agent_reply_at END,
                CASE WHEN coalesce(done, CAST(:newest AS timestamptz)) >= warn THEN warn END,
                CASE WHEN coalesce(done, CAST(:newest AS timestamptz)) >= due THEN due END,
                done, coalesce(done, k.created_at)
            FROM tickets k
            CROSS JOIN (SELECT id FROM sla_policies WHERE tenant_id = :tenant) AS p
            CROSS JOIN (VALUES ('first_response', 240), ('resolution', 2880))
                AS target(name, minutes)
            CROSS JOIN LATERAL (SELECT
                k.created_at + target.minutes * interval '1 minute' AS due,
                k.created_at + target.minutes * 0.8 * interval '1 minute' AS warn,
                CASE WHEN target.name = 'first_response' THEN k.first_responded_at
                     ELSE k.resolved_at END AS done) AS d
            WHERE k.created_at > CAST(:newest AS timestamptz) - interval '60 days'
            """,
    ),
    (
        "reads",
        """
            INSERT INTO ticket_reads (user_id, ticket_id, tenant_id, read_at)
            SELECT assignee_id, id, tenant_id, last_message_at + interval '1 minute'
            FROM tickets
            WHERE assignee_id IS NOT NULL AND status IN ('resolved', 'closed')
            """,
    ),
]


def _positional(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """`:name` placeholders (not `::casts`) to asyncpg's `$n`, with the values in order;
    integers go in as literals (no parameter type for PostgreSQL to guess)."""
    names: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(sql):
        if sql[i] == ":" and sql[i + 1 : i + 2] != ":" and (i == 0 or sql[i - 1] != ":"):
            j = i + 1
            while j < len(sql) and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            if j > i + 1:
                name = sql[i + 1 : j]
                if isinstance(params[name], int):  # a literal: no parameter type to infer
                    out.append(str(params[name]))
                else:
                    if name not in names:
                        names.append(name)
                    out.append(f"${names.index(name) + 1}")
                i = j
                continue
        out.append(sql[i])
        i += 1
    return "".join(out), [params[name] for name in names]


async def _run(conn: asyncpg.Connection, sql: str, params: dict[str, Any]) -> None:
    for statement in (s for s in sql.split(";\n") if s.strip()):
        text, values = _positional(statement, params)
        await conn.execute(text, *values)


async def seed(url: str, size: Size) -> dict[str, float]:
    """Fill the empty migrated database at `url`; seconds per step."""
    conn = await asyncpg.connect(url)
    timings: dict[str, float] = {}
    try:
        # Constraint triggers (foreign keys) off for the load: the rows are consistent by
        # construction. Secondary indexes are built once afterwards, not row by row.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET synchronous_commit = off")
        indexes = await conn.fetch(
            """
            SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS ddl
            FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = ANY($1::text[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            list(_BULK_TABLES),
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['name']}")
        tenant = uuid.uuid4()
        began = time.perf_counter()
        await conn.execute(_PEOPLE[0], tenant, size.tickets)
        await conn.execute(_PEOPLE[1], tenant, DEPARTMENTS)
        password_hash = PasswordHasher().hash(PASSWORD)
        await conn.execute(
            _PEOPLE[2],
            tenant,
            DOMAIN,
            password_hash,
            FIRST_NAMES,
            LAST_NAMES,
            ADMINS,
            size.users,
        )
        await conn.execute(
            "CREATE TEMP TABLE bench_users AS SELECT id,"
            " CAST(split_part(split_part(email, '@', 1), '-', 2) AS int) AS u FROM users"
        )
        timings["people_s"] = time.perf_counter() - began
        params: dict[str, Any] = {
            "tenant": tenant,
            "newest": await conn.fetchval("SELECT date_trunc('minute', now())"),
            "subjects": SUBJECTS,
            "n_subjects": len(SUBJECTS),
            "products": PRODUCTS,
            "n_products": len(PRODUCTS),
            "domains": CUSTOMER_DOMAINS,
            "n_domains": len(CUSTOMER_DOMAINS),
            "first_names": FIRST_NAMES,
            "last_names": LAST_NAMES,
            "tags": TAGS,
            "words": WORDS,
            "n_words": len(WORDS),
            "agent_words": AGENT_WORDS,
            "n_agent_words": len(AGENT_WORDS),
            "domain": DOMAIN,
            "admins": ADMINS,
            "personal_from": PERSONAL_FROM,
            "personal_owners": PERSONAL_OWNERS,
            "personal_accounts": size.accounts - PERSONAL_FROM,
            "last_account": size.accounts - 1,
            "tickets": size.tickets,
            "last_ticket": size.tickets - 1,
        }
        for label, sql in _STATEMENTS:
            step = time.perf_counter()
            await _run(conn, sql, params)
            timings[f"{label}_s"] = time.perf_counter() - step
            print(f"  {label}: {timings[f'{label}_s']:.1f} s", file=sys.stderr)
        step = time.perf_counter()
        for index in indexes:
            await conn.execute(index["ddl"])
        timings["indexes_s"] = time.perf_counter() - step
        step = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        timings["vacuum_analyze_s"] = time.perf_counter() - step
        timings["total_s"] = time.perf_counter() - began
    finally:
        await conn.close()
    return {k: round(v, 1) for k, v in timings.items()}


async def ensure_seeded(
    admin_url: str, size: Size, *, reseed: bool = False, name: str = DATABASE
) -> tuple[str, dict[str, Any]]:
    """The URL of a database holding a seed; seeds one (dropping the old one when
    `reseed`, or when the kept one is of another size) unless a kept one fits."""
    url = with_database(admin_url, name)
    if await _database_exists(admin_url, name):
        kept = None if reseed else await seeded_size(url)
        if kept == size:
            # migrations added since the seed (an index, say) apply to the kept data
            await asyncio.to_thread(migrate, url)
            return url, {"seed": "kept"}
        await drop(admin_url, name)
    await _create(admin_url, name)
    timings = await seed(url, size)
    sizes = await _table_sizes(url)
    return url, {"seed_timings": timings, "table_sizes": sizes}


async def _table_sizes(url: str) -> dict[str, str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """
            SELECT relname, reltuples::bigint AS rows,
                pg_size_pretty(pg_total_relation_size(oid)) AS size
            FROM pg_class
            WHERE relname IN ('tickets', 'messages', 'sla_timers', 'ticket_reads',
                'email_assignments')
            ORDER BY relname
            """
        )
    finally:
        await conn.close()
    return {r["relname"]: f"{r['rows']} rows, {r['size']}" for r in rows}


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=ADMIN_URL, help="server (its maintenance DB)")
    parser.add_argument("--name", default=DATABASE)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=200)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--reseed", action="store_true", help="seed again even if kept")
    action.add_argument("--drop", action="store_true", help="drop the database and exit")
    args = parser.parse_args()
    if args.accounts <= PERSONAL_FROM or args.users <= PERSONAL_OWNERS:
        parser.error(f"needs more than {PERSONAL_FROM} accounts and {PERSONAL_OWNERS} users")
    if args.drop:
        asyncio.run(drop(args.database_url, args.name))
        return
    size = Size(args.tickets, args.accounts, args.users)
    url, result = asyncio.run(
        ensure_seeded(args.database_url, size, reseed=args.reseed, name=args.name)
    )
    print(json.dumps({"database_url": url, **result}, indent=2))


if __name__ == "__main__":
    cli()
