"""The gateway's role matrix: who may call each operation of the OpenAPI document on the rows
of a mailbox they are staffed on, and the scope an API token needs for it.

Tenant roles: `admin` may do everything in the tenant; a member's rights come from
assignments on mailboxes (primary: read, send, delete; backup: read, send; viewer: read
only), and an `outsider` (a member assigned nowhere) may use only what is their own.
A row of a mailbox the caller cannot see is a 404, a right the caller lacks a 403.

API token scopes (`postdesk_contracts.api_access.ApiScope`): reads of the inbox need
`tickets:read`, its writes `tickets:write`; the admin console `admin:read` / `admin:write`,
webhooks `webhooks:manage`; password changes and API token management need a login session.

`RULES` names every operation; the sweep fails on an operation missing from it, so a new
route is given its rule here, deliberately.
"""

from __future__ import annotations

from dataclasses import dataclass

from postdesk_contracts.api_access import ApiScope

Operation = tuple[str, str]  # method, path template


@dataclass(frozen=True)
class Rule:
    """Who may call an operation on a staffed mailbox's rows (`allowed`, by role)."""

    allowed: frozenset[str]
    why: str
    session_only: bool = False  # no API token may call it
    stream: bool = False  # an endless answer: its allowed calls are not made here
    mutates_caller: bool = False  # its allowed call changes the caller (checked elsewhere)


def rule(*roles: str, why: str, **flags: bool) -> Rule:
    return Rule(frozenset(roles), why, **flags)


EVERYONE = rule("admin", "primary", "backup", "viewer", "outsider", why="own data only")
READERS = rule("admin", "primary", "backup", "viewer", why="sees the mailbox")
SENDERS = rule("admin", "primary", "backup", why="can_send on the mailbox")
ADMIN = rule("admin", why="tenant admin")
PUBLIC_OPERATIONS = {("POST", "/auth/login"), ("POST", "/auth/refresh"), ("POST", "/auth/logout")}

RULES: dict[Operation, Rule] = {
    ("GET", "/me"): EVERYONE,
    ("POST", "/me/password"): rule(
        *EVERYONE.allowed, why="own password", session_only=True, mutates_caller=True
    ),
    ("GET", "/me/notification-preferences"): EVERYONE,
    ("PUT", "/me/notification-preferences"): EVERYONE,
    ("GET", "/notifications"): EVERYONE,
    ("POST", "/notifications/read-all"): EVERYONE,
    ("GET", "/notifications/unread-count"): EVERYONE,
    ("GET", "/notifications/stream"): rule(*EVERYONE.allowed, why="own", stream=True),
    ("POST", "/notifications/{notification_id}/read"): rule(
        "outsider", why="a notification is its user's alone, even for the admin"
    ),
    ("GET", "/tickets"): EVERYONE,
    ("GET", "/tickets/counts"): EVERYONE,
    ("GET", "/analytics/me"): EVERYONE,
    ("GET", "/analytics/me/export.csv"): EVERYONE,
    ("POST", "/uploads"): EVERYONE,
    ("GET", "/tickets/{ticket_id}"): READERS,
    ("GET", "/tickets/{ticket_id}/history"): READERS,
    ("POST", "/tickets/{ticket_id}/unread"): READERS,
    ("GET", "/tickets/{ticket_id}/events"): rule(*READERS.allowed, why="sees it", stream=True),
    ("POST", "/tickets/{ticket_id}/presence"): READERS,
    ("GET", "/tickets/{ticket_id}/notes"): READERS,
    ("GET", "/tickets/{ticket_id}/staff"): READERS,
    ("GET", "/attachments/{attachment_id}"): READERS,
    ("GET", "/messages/{message_id}/html"): READERS,
    ("GET", "/analytics/accounts/{account_id}"): READERS,
    ("GET", "/analytics/accounts/{account_id}/export.csv"): READERS,
    ("POST", "/tickets"): SENDERS,
    ("PATCH", "/tickets/{ticket_id}"): SENDERS,
    ("POST", "/tickets/{ticket_id}/merge"): SENDERS,
    ("POST", "/tickets/{ticket_id}/replies"): SENDERS,
    ("POST", "/tickets/{ticket_id}/notes"): rule(*SENDERS.allowed, why="not a viewer"),
    ("DELETE", "/tickets/{ticket_id}"): rule("admin", "primary", why="can_delete"),
    ("POST", "/outbound/{outbound_id}/cancel"): rule(
        "admin", why="who requested the mail (the admin here), or an admin"
    ),
    ("GET", "/analytics/departments/{department_id}"): rule(
        "admin", "primary", why="admins, the department's members and managers"
    ),
    ("GET", "/analytics/departments/{department_id}/export.csv"): rule(
        "admin", "primary", why="admins, the department's members and managers"
    ),
    ("GET", "/admin/api-tokens"): rule("admin", why="admin, logged in", session_only=True),
    ("POST", "/admin/api-tokens"): rule("admin", why="admin, logged in", session_only=True),
    ("GET", "/admin/api-tokens/{token_id}"): rule("admin", why="admin", session_only=True),
    ("DELETE", "/admin/api-tokens/{token_id}"): rule("admin", why="admin", session_only=True),
}
# Everything else of the admin console is the tenant admin's alone.
ADMIN_OPERATIONS = {
    ("GET", "/admin/accounts"), ("POST", "/admin/accounts"),
    ("GET", "/admin/accounts/{account_id}"), ("PATCH", "/admin/accounts/{account_id}"),
    ("POST", "/admin/accounts/{account_id}/deactivate"),
    ("GET", "/admin/accounts/{account_id}/assignments"),
    ("POST", "/admin/assignments"), ("PATCH", "/admin/assignments/{assignment_id}"),
    ("DELETE", "/admin/assignments/{assignment_id}"),
    ("GET", "/admin/audit-log"), ("GET", "/admin/processing-logs"),
    ("GET", "/admin/departments"), ("POST", "/admin/departments"),
    ("GET", "/admin/departments/{department_id}"),
    ("PATCH", "/admin/departments/{department_id}"),
    ("DELETE", "/admin/departments/{department_id}"),
    ("GET", "/admin/departments/{department_id}/managers"),
    ("PUT", "/admin/departments/{department_id}/managers"),
    ("GET", "/admin/imap-mailboxes"), ("POST", "/admin/imap-mailboxes"),
    ("GET", "/admin/imap-mailboxes/{mailbox_id}"),
    ("PATCH", "/admin/imap-mailboxes/{mailbox_id}"),
    ("DELETE", "/admin/imap-mailboxes/{mailbox_id}"),
    ("GET", "/admin/inbound-addresses"), ("POST", "/admin/inbound-addresses"),
    ("PATCH", "/admin/inbound-addresses/{address_id}"),
    ("DELETE", "/admin/inbound-addresses/{address_id}"),
    ("GET", "/admin/inbound-domains"), ("POST", "/admin/inbound-domains"),
    ("PATCH", "/admin/inbound-domains/{domain_id}"),
    ("DELETE", "/admin/inbound-domains/{domain_id}"),
    ("GET", "/admin/notification-settings"), ("PUT", "/admin/notification-settings"),
    ("GET", "/admin/sla-policies"), ("POST", "/admin/sla-policies"),
    ("GET", "/admin/sla-policies/{policy_id}"), ("PATCH", "/admin/sla-policies/{policy_id}"),
    ("DELETE", "/admin/sla-policies/{policy_id}"),
    ("GET", "/admin/smtp"), ("PUT", "/admin/smtp"),
    ("PUT", "/admin/smtp/accounts/{account_id}"),
    ("DELETE", "/admin/smtp/accounts/{account_id}"),
    ("POST", "/admin/smtp/test"),
    ("GET", "/admin/users"), ("POST", "/admin/users"),
    ("GET", "/admin/users/{user_id}"), ("PATCH", "/admin/users/{user_id}"),
    ("POST", "/admin/users/{user_id}/deactivate"), ("POST", "/admin/users/{user_id}/password"),
    ("GET", "/admin/users/{user_id}/assignments"),
    ("GET", "/admin/webhook-settings"), ("PUT", "/admin/webhook-settings"),
    ("GET", "/admin/webhooks"), ("POST", "/admin/webhooks"),
    ("GET", "/admin/webhooks/{subscription_id}"),
    ("PATCH", "/admin/webhooks/{subscription_id}"),
    ("DELETE", "/admin/webhooks/{subscription_id}"),
    ("GET", "/admin/webhooks/{subscription_id}/deliveries"),
    ("POST", "/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver"),
    ("POST", "/admin/webhooks/{subscription_id}/rotate-secret"),
    ("POST", "/admin/webhooks/{subscription_id}/test"),
}  # fmt: skip
RULES |= {operation: ADMIN for operation in ADMIN_OPERATIONS}


def expected_scope(operation: Operation) -> ApiScope | None:
    """The scope the matrix says an API token needs; None: no token may call it."""
    method, path = operation
    if RULES[operation].session_only:
        return None
    read = method in {"GET", "HEAD"}
    if path.startswith(("/admin/webhooks", "/admin/webhook-settings")):
        return ApiScope.WEBHOOKS_MANAGE
    if path.startswith("/admin/"):
        return ApiScope.ADMIN_READ if read else ApiScope.ADMIN_WRITE
    return ApiScope.TICKETS_READ if read else ApiScope.TICKETS_WRITE
