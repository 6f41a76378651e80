"""Schemas of the gateway's admin API: users, departments, mailboxes, assignments and the
processing and audit logs. API models only, like `api`.

Request models refuse unknown fields (`extra="forbid"`: no mass assignment of columns
the API does not offer); omitted fields of an update stay as they are. Values whose
validity depends on stored state (a schedule with the stored timezone, a department of
the tenant) are judged by the gateway, which answers 422 or 404.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, Field, model_validator

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel

# The router's department strategies (postdesk_router.assignment.Strategy). Copied, not
# imported: a library never depends on a service. Add a name here when the router adds one.
ROUTING_STRATEGIES: Final = ("primary", "priority", "round_robin", "least_open")
RoutingStrategy = Literal["primary", "priority", "round_robin", "least_open"]
TenantRoleName = Literal["admin", "member"]
AccountKindName = Literal["shared", "personal"]
AssignmentRoleName = Literal["primary", "backup", "viewer"]
AutoReplySchedule = Literal["always", "outside_hours"]
ReopenPolicy = Literal["reopen", "follow_up"]

# no whitespace (Unicode's, NEL and the line separators among it) and no control character
_EMAIL_PATTERN: Final = (
    r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
)
# what outbound refuses in a header value (postdesk_outbound.compose): TAB is allowed
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
MIN_PASSWORD_CHARS: Final = 12
_FORBID: Final = ApiModel.model_config | {"extra": "forbid"}


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain line breaks or other control characters")
    return value


# Text that ends up in a mail header (a From display name, an auto-reply's subject): a line
# break there would start a header of its own, and outbound would refuse every mail with it.
HeaderText = Annotated[str, AfterValidator(_one_line)]


class _Request(ApiModel):
    """Base of the admin request models: unknown fields refused, and no NUL character
    anywhere (PostgreSQL stores none, in text or in JSON)."""

    model_config = _FORBID

    @model_validator(mode="after")
    def _no_nul(self) -> _Request:
        if _has_nul(self.__dict__):
            raise ValueError("text must not contain NUL characters")
        return self


class _Page(ApiModel):
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; None on the last page"
    )


# ---- users ------------------------------------------------------------------------------------


class UserCreate(_Request):
    """A new user of the tenant. Without `password` an initial one is generated and returned
    once. With `company_email` their personal mailbox is created too, with them as primary."""

    model_config = ex.example_config(
        {
            "email": "ben.okafor@acme.example",
            "full_name": "Ben Okafor",
            "role": "member",
            "department_id": ex.DEPARTMENT_ID,
            "job_title": "Support engineer",
            "email_signature": "Ben Okafor\nAcme Support",
            "timezone": "Europe/Berlin",
            "working_hours": ex.OFFICE_HOURS,
            "company_email": "ben@acme.example",
        }
    )

    email: str = Field(pattern=_EMAIL_PATTERN, max_length=320, description="the login")
    full_name: HeaderText = Field(min_length=1, max_length=200)
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_CHARS, max_length=1024)
    role: TenantRoleName = "member"
    department_id: uuid.UUID | None = None
    job_title: str = Field(default="", max_length=200)
    email_signature: str = Field(default="", max_length=10_000)
    timezone: str = Field(default="UTC", max_length=64)
    working_hours: dict[str, Any] = Field(default_factory=dict)
    notification_preferences: dict[str, Any] = Field(default_factory=dict)
    company_email: str | None = Field(default=None, pattern=_EMAIL_PATTERN, max_length=320)


class UserUpdate(_Request):
    """Changes to a user; omitted fields stay as they are. `department_id` null clears it."""

    model_config = ex.example_config(
        {"job_title": "Senior support engineer", "department_id": ex.DEPARTMENT_ID}
    )

    full_name: HeaderText | None = Field(default=None, min_length=1, max_length=200)
    role: TenantRoleName | None = None
    department_id: uuid.UUID | None = None
    job_title: str | None = Field(default=None, max_length=200)
    email_signature: str | None = Field(default=None, max_length=10_000)
    timezone: str | None = Field(default=None, max_length=64)
    working_hours: dict[str, Any] | None = None
    notification_preferences: dict[str, Any] | None = None
    is_active: bool | None = None


class UserView(ApiModel):
    model_config = ex.example_config(
        {
            "id": ex.COLLEAGUE_ID,
            "email": "ben.okafor@acme.example",
            "full_name": "Ben Okafor",
            "role": "member",
            "department_id": ex.DEPARTMENT_ID,
            "job_title": "Support engineer",
            "email_signature": "Ben Okafor\nAcme Support",
            "timezone": "Europe/Berlin",
            "working_hours": ex.OFFICE_HOURS,
            "notification_preferences": {},
            "company_email": "ben@acme.example",
            "is_active": True,
            "created_at": "2026-11-02T10:00:00Z",
        }
    )

    id: uuid.UUID
    email: str
    full_name: str
    role: TenantRoleName
    department_id: uuid.UUID | None
    job_title: str
    email_signature: str
    timezone: str
    working_hours: dict[str, Any]
    notification_preferences: dict[str, Any]
    company_email: str | None
    is_active: bool
    created_at: datetime


class UserCreated(UserView):
    model_config = ex.example_config(
        ex.example_of(UserView)
        | {
            "initial_password": "tR7qLm2vX9kdPw4zJ8nB5cYh",
            "personal_account_id": ex.PERSONAL_ACCOUNT_ID,
        }
    )

    initial_password: str | None = Field(
        default=None, description="the generated password when none was given; shown only now"
    )
    personal_account_id: uuid.UUID | None = Field(
        default=None, description="the personal mailbox created for `company_email`"
    )


OpenTicketsChoice = Literal["keep", "unassign", "reassign"]


class UserDeactivate(_Request):
    """What becomes of the user's open tickets (status open or pending) when they are
    deactivated: `keep` them assigned (the default, and what an empty body means),
    `unassign` them (they show in their mailbox's unassigned view) or `reassign` them all
    to `reassign_to`, an active user of the tenant who may be assignee on every mailbox
    those tickets are in (else 422, nothing changed)."""

    model_config = _Request.model_config | ex.example_config(
        {"open_tickets": "reassign", "reassign_to": ex.AGENT_ID}
    )

    open_tickets: OpenTicketsChoice = "keep"
    reassign_to: uuid.UUID | None = Field(
        default=None, description="the new assignee; required with `reassign`, else refused"
    )

    @model_validator(mode="after")
    def _target_with_reassign_only(self) -> UserDeactivate:
        if (self.open_tickets == "reassign") != (self.reassign_to is not None):
            raise ValueError("reassign_to is required with open_tickets=reassign, and only then")
        return self


class UserDeactivated(UserView):
    """The deactivated user, and how many of their open tickets changed hands now (both 0
    when they were kept, or when the user was already inactive)."""

    model_config = ex.example_config(
        ex.example_of(UserView)
        | {"is_active": False, "tickets_reassigned": 12, "tickets_unassigned": 0}
    )

    tickets_reassigned: int = Field(default=0, description="open tickets given to reassign_to")
    tickets_unassigned: int = Field(default=0, description="open tickets left unassigned")


class PasswordReset(_Request):
    """A new password for a user who lost theirs. Without `password` one is generated and
    returned once. Either way every session of the user ends and a lockout is lifted."""

    model_config = (
        _Request.model_config
        | {"hide_input_in_errors": True}
        | ex.example_config({"password": "saffron-kettle-meadow-73"})
    )

    password: str | None = Field(default=None, min_length=MIN_PASSWORD_CHARS, max_length=1024)


class PasswordResetDone(ApiModel):
    model_config = ex.example_config(
        {"user_id": ex.AGENT_ID, "temporary_password": "tR7qLm2vX9kdPw4zJ8nB5cYh"}
    )

    user_id: uuid.UUID
    temporary_password: str | None = Field(
        default=None, description="the generated password when none was given; shown only now"
    )


class UserList(_Page):
    model_config = ex.example_config({"items": [ex.example_of(UserView)], "next_cursor": None})

    items: list[UserView] = Field(description="newest first")


# ---- departments ------------------------------------------------------------------------------


class DepartmentCreate(_Request):
    model_config = ex.example_config(
        {
            "name": "Billing",
            "description": "Invoices, refunds and payment questions",
            "routing_strategy": "round_robin",
        }
    )

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    routing_strategy: RoutingStrategy = "primary"


class DepartmentUpdate(_Request):
    model_config = ex.example_config({"routing_strategy": "least_open"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    routing_strategy: RoutingStrategy | None = None


class DepartmentView(ApiModel):
    model_config = ex.example_config(
        {
            "id": ex.DEPARTMENT_ID,
            "name": "Billing",
            "description": "Invoices, refunds and payment questions",
            "routing_strategy": "round_robin",
            "created_at": "2026-10-01T09:00:00Z",
        }
    )

    id: uuid.UUID
    name: str
    description: str
    routing_strategy: str
    created_at: datetime


class DepartmentList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(DepartmentView)]})

    items: list[DepartmentView] = Field(description="by name")


# ---- email accounts ---------------------------------------------------------------------------


class _AccountSettings(_Request):
    display_name: HeaderText | None = Field(default=None, max_length=200)
    department_id: uuid.UUID | None = None
    signature: str | None = Field(default=None, max_length=10_000)
    auto_reply_enabled: bool | None = None
    auto_reply_subject: HeaderText | None = Field(default=None, max_length=500)
    auto_reply_message: str | None = Field(default=None, max_length=20_000)
    auto_reply_schedule: AutoReplySchedule | None = None
    auto_reply_window_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    timezone: str | None = Field(default=None, max_length=64)
    working_hours: dict[str, Any] | None = None
    reopen_policy: ReopenPolicy | None = None
    subject_match_days: int | None = Field(default=None, ge=1, le=365)
    reassign_after_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)


class AccountCreate(_AccountSettings):
    """A new mailbox. A personal one needs `owner_user_id` (who becomes its primary); a
    shared one has no owner. Omitted settings take the defaults."""

    model_config = ex.example_config(
        {
            "address": "billing@acme.example",
            "kind": "shared",
            "display_name": "Acme Billing",
            "department_id": ex.DEPARTMENT_ID,
            "signature": "Acme Billing team",
            "auto_reply_enabled": True,
            "auto_reply_subject": "We received your message",
            "auto_reply_message": "Thanks for writing to Acme Billing: we answer within a day.",
            "auto_reply_schedule": "outside_hours",
            "timezone": "Europe/Berlin",
            "working_hours": ex.OFFICE_HOURS,
            "reopen_policy": "reopen",
            "subject_match_days": 30,
        }
    )

    address: str = Field(pattern=_EMAIL_PATTERN, max_length=320)
    kind: AccountKindName = "shared"
    owner_user_id: uuid.UUID | None = None


class AccountUpdate(_AccountSettings):
    """Changes to a mailbox; omitted fields stay as they are. For the nullable settings
    (`department_id`, `subject_match_days`, `reassign_after_minutes`) an explicit null
    clears them."""

    model_config = ex.example_config({"auto_reply_enabled": False, "reassign_after_minutes": 240})

    is_active: bool | None = None


class AccountStats(ApiModel):
    model_config = ex.example_config(
        {"open_tickets": 12, "tickets_this_week": 37, "avg_first_response_minutes": 42.5}
    )

    open_tickets: int = Field(description="tickets with status open")
    tickets_this_week: int = Field(description="tickets created in the last 7 days")
    avg_first_response_minutes: float | None = Field(
        description="over tickets created in the last 30 days that were answered"
    )


class AccountView(ApiModel):
    model_config = ex.example_config(
        {
            "id": ex.PERSONAL_ACCOUNT_ID,
            "address": "ben@acme.example",
            "display_name": "Ben Okafor",
            "kind": "personal",
            "department_id": ex.DEPARTMENT_ID,
            "owner_user_id": ex.COLLEAGUE_ID,
            "signature": "Ben Okafor\nAcme Billing",
            "auto_reply_enabled": True,
            "auto_reply_subject": "Out of office",
            "auto_reply_message": "Away until Monday: billing@acme.example can help.",
            "auto_reply_schedule": "outside_hours",
            "auto_reply_window_minutes": 1440,
            "timezone": "Europe/Berlin",
            "working_hours": ex.OFFICE_HOURS,
            "reopen_policy": "reopen",
            "subject_match_days": 30,
            "reassign_after_minutes": 240,
            "is_active": True,
            "created_at": "2026-11-02T10:00:00Z",
        }
    )

    id: uuid.UUID
    address: str
    display_name: str
    kind: AccountKindName
    department_id: uuid.UUID | None
    owner_user_id: uuid.UUID | None
    signature: str
    auto_reply_enabled: bool
    auto_reply_subject: str
    auto_reply_message: str
    auto_reply_schedule: str
    auto_reply_window_minutes: int
    timezone: str
    working_hours: dict[str, Any]
    reopen_policy: str
    subject_match_days: int | None
    reassign_after_minutes: int | None
    is_active: bool
    created_at: datetime


class AccountWithStats(AccountView):
    model_config = ex.example_config(
        ex.example_of(AccountView) | {"stats": ex.example_of(AccountStats)}
    )

    stats: AccountStats


class AccountList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(AccountWithStats)]})

    items: list[AccountWithStats] = Field(description="by address")


# ---- assignments ------------------------------------------------------------------------------


class AssignmentCreate(_Request):
    """Give a user rights on a mailbox. Unset `can_send` is true except for viewers; unset
    `can_delete` is true only for the primary. A viewer can never send or delete (422).
    Adding a user whose assignment was removed restores it with these values."""

    model_config = ex.example_config(
        {
            "account_id": ex.BILLING_ACCOUNT_ID,
            "user_id": ex.COLLEAGUE_ID,
            "role": "backup",
            "can_send": True,
            "priority": 10,
            "notes": "covers billing while Ana is on leave",
        }
    )

    account_id: uuid.UUID
    user_id: uuid.UUID
    role: AssignmentRoleName
    can_send: bool | None = None
    can_receive: bool = True
    can_delete: bool | None = None
    can_assign_others: bool = False
    notify_on_receive: bool = True
    notify_on_reply: bool = True
    notify_on_mention: bool = True
    priority: int = Field(default=0, ge=0, le=1000, description="lower is asked first")
    notes: str = Field(default="", max_length=2000)


class AssignmentUpdate(_Request):
    model_config = ex.example_config({"role": "primary", "can_delete": True, "priority": 0})

    role: AssignmentRoleName | None = None
    can_send: bool | None = None
    can_receive: bool | None = None
    can_delete: bool | None = None
    can_assign_others: bool | None = None
    notify_on_receive: bool | None = None
    notify_on_reply: bool | None = None
    notify_on_mention: bool | None = None
    priority: int | None = Field(default=None, ge=0, le=1000)
    notes: str | None = Field(default=None, max_length=2000)


class AssignmentView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
            "account_id": ex.BILLING_ACCOUNT_ID,
            "user_id": ex.COLLEAGUE_ID,
            "role": "backup",
            "can_send": True,
            "can_receive": True,
            "can_delete": False,
            "can_assign_others": False,
            "notify_on_receive": True,
            "notify_on_reply": True,
            "notify_on_mention": True,
            "priority": 10,
            "is_active": True,
            "assigned_by": ex.ADMIN_ID,
            "notes": "covers billing while Ana is on leave",
            "created_at": "2026-11-10T14:30:00Z",
        }
    )

    id: uuid.UUID
    account_id: uuid.UUID
    user_id: uuid.UUID
    role: AssignmentRoleName
    can_send: bool
    can_receive: bool
    can_delete: bool
    can_assign_others: bool
    notify_on_receive: bool
    notify_on_reply: bool
    notify_on_mention: bool
    priority: int
    is_active: bool
    assigned_by: uuid.UUID | None
    notes: str
    created_at: datetime


class AssignmentList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(AssignmentView)]})

    items: list[AssignmentView] = Field(description="active ones first, then by priority")


# ---- logs -------------------------------------------------------------------------------------


class ProcessingLogView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "8b9c0d1e-2f3a-4b4c-9d6e-7f8a9b0c1d2e",
            "stage": "parser",
            "status": "parsed",
            "sha256": "5d41402abc4b2a76b9719d911017c592a9e9d0b5f1b2c3d4e5f60718293a4b5c",
            "message_id_header": "<CAF3x9Qz7@mail.globex.example>",
            "event_id": ex.EVENT_ID,
            "detail": "",
            "created_at": ex.CREATED_AT,
            "updated_at": ex.CREATED_AT,
        }
    )

    id: uuid.UUID
    stage: str
    status: str
    sha256: str
    message_id_header: str | None
    event_id: uuid.UUID | None
    detail: str
    created_at: datetime
    updated_at: datetime


class ProcessingLogList(_Page):
    model_config = ex.example_config(
        {"items": [ex.example_of(ProcessingLogView)], "next_cursor": ex.CURSOR}
    )

    items: list[ProcessingLogView] = Field(description="newest first")


class AuditEntryView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "9c0d1e2f-3a4b-4c5d-8e7f-8a9b0c1d2e3f",
            "actor_user_id": ex.ADMIN_ID,
            "action": "assignment.created",
            "object_type": "assignment",
            "object_id": "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
            "ip": "203.0.113.24",
            "detail": {
                "account_id": ex.BILLING_ACCOUNT_ID,
                "user_id": ex.COLLEAGUE_ID,
                "role": "backup",
            },
            "created_at": "2026-11-10T14:30:00Z",
        }
    )

    id: uuid.UUID
    actor_user_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: str
    ip: str
    detail: dict[str, Any]
    created_at: datetime


class AuditLogList(_Page):
    model_config = ex.example_config(
        {"items": [ex.example_of(AuditEntryView)], "next_cursor": None}
    )

    items: list[AuditEntryView] = Field(description="newest first")


# ---- SLA policies -----------------------------------------------------------------------------

MAX_TARGET_MINUTES: Final = 525_600  # one year, as the CLI's rules
TicketPriorityName = Literal["low", "normal", "high", "urgent"]


class SlaPolicyCreate(_Request):
    """Targets for the tickets of a scope: the tenant, an account, a department (the
    account's own when both are set), optionally one priority. At least one target; a
    business-hours policy needs working hours, a calendar-time one has none, no timezone
    other than UTC and no holidays. One active policy per scope (409)."""

    model_config = ex.example_config(
        {
            "name": "Billing mailbox, urgent",
            "account_id": ex.BILLING_ACCOUNT_ID,
            "department_id": ex.DEPARTMENT_ID,
            "priority": "urgent",
            "first_response_minutes": 60,
            "resolution_minutes": 480,
            "business_hours": True,
            "timezone": "Europe/Berlin",
            "working_hours": ex.OFFICE_HOURS,
            "holidays": ["2026-12-25", "2026-12-26"],
            "warning_percent": 80,
        }
    )

    name: str = Field(min_length=1, max_length=200)
    account_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    priority: TicketPriorityName | None = None
    first_response_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    resolution_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    business_hours: bool = False
    timezone: str = Field(default="UTC", max_length=64)
    working_hours: dict[str, Any] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list, max_length=1000)
    warning_percent: int = Field(default=80, ge=1, le=100)


class SlaPolicyUpdate(_Request):
    """Changes to a policy; its scope stays (a new scope is a new policy). Omitted fields
    stay; a target set to null is dropped (one must remain)."""

    model_config = ex.example_config({"first_response_minutes": 45, "warning_percent": 75})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    first_response_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    resolution_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    business_hours: bool | None = None
    timezone: str | None = Field(default=None, max_length=64)
    working_hours: dict[str, Any] | None = None
    holidays: list[date] | None = Field(default=None, max_length=1000)
    warning_percent: int | None = Field(default=None, ge=1, le=100)
    is_active: bool | None = None


class SlaPolicyView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f8a",
            "name": "Billing mailbox, urgent",
            "account_id": ex.BILLING_ACCOUNT_ID,
            "department_id": ex.DEPARTMENT_ID,
            "priority": "urgent",
            "first_response_minutes": 60,
            "resolution_minutes": 480,
            "business_hours": True,
            "timezone": "Europe/Berlin",
            "working_hours": ex.OFFICE_HOURS,
            "holidays": ["2026-12-25", "2026-12-26"],
            "warning_percent": 80,
            "is_active": True,
            "created_at": "2026-10-01T09:05:00Z",
        }
    )

    id: uuid.UUID
    name: str
    account_id: uuid.UUID | None
    department_id: uuid.UUID | None
    priority: str | None
    first_response_minutes: int | None
    resolution_minutes: int | None
    business_hours: bool
    timezone: str
    working_hours: dict[str, Any]
    holidays: list[str]
    warning_percent: int
    is_active: bool
    created_at: datetime


class SlaPolicyList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(SlaPolicyView)]})

    items: list[SlaPolicyView] = Field(description="oldest first (the router's tie order)")


# ---- inbound: domains, generated addresses, IMAP mailboxes ------------------------------------

_DOMAIN_PATTERN: Final = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
# ingest's AfterAction: flag (\Seen), flag:<IMAP keyword>, move (to move_to_folder) or leave.
_AFTER_ACTION_PATTERN: Final = r"^(leave|move|flag(:\\?[!#$&'+\-.0-9:;<=>?@A-Z^_`a-z|~]{1,64})?)$"
ImapSecurity = Literal["ssl", "starttls", "plain"]


class InboundDomainCreate(_Request):
    """A domain whose mail belongs to the tenant; unique across tenants (409).
    `catch_all_account_id` takes its addresses that match no mailbox (none: refused)."""

    model_config = ex.example_config(
        {"domain": "support.acme.example", "catch_all_account_id": ex.SUPPORT_ACCOUNT_ID}
    )

    domain: str = Field(pattern=_DOMAIN_PATTERN, max_length=253)
    catch_all_account_id: uuid.UUID | None = None


class InboundDomainUpdate(_Request):
    model_config = ex.example_config({"catch_all_account_id": ex.BILLING_ACCOUNT_ID})

    catch_all_account_id: uuid.UUID | None = None


class InboundDomainView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "5e6f7a8b-9c0d-4e1f-8a3b-4c5d6e7f8a9b",
            "domain": "support.acme.example",
            "catch_all_account_id": ex.SUPPORT_ACCOUNT_ID,
            "created_at": "2026-10-01T09:10:00Z",
        }
    )

    id: uuid.UUID
    domain: str
    catch_all_account_id: uuid.UUID | None
    created_at: datetime


class InboundDomainList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(InboundDomainView)]})

    items: list[InboundDomainView] = Field(description="by domain")


class InboundAddressCreate(_Request):
    """An address that delivers to a mailbox; unique across tenants (409)."""

    model_config = ex.example_config(
        {
            "address": "refunds@support.acme.example",
            "account_id": ex.BILLING_ACCOUNT_ID,
            "is_active": True,
        }
    )

    address: str = Field(pattern=_EMAIL_PATTERN, max_length=320)
    account_id: uuid.UUID
    is_active: bool = True


class InboundAddressUpdate(_Request):
    model_config = ex.example_config({"is_active": False})

    account_id: uuid.UUID | None = None
    is_active: bool | None = None


class InboundAddressView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "6f7a8b9c-0d1e-4f2a-9b4c-5d6e7f8a9b0c",
            "address": "refunds@support.acme.example",
            "account_id": ex.BILLING_ACCOUNT_ID,
            "is_active": True,
            "created_at": "2026-10-01T09:12:00Z",
        }
    )

    id: uuid.UUID
    address: str
    account_id: uuid.UUID
    is_active: bool
    created_at: datetime


class InboundAddressList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(InboundAddressView)]})

    items: list[InboundAddressView] = Field(description="by address")


class ImapMailboxCreate(_Request):
    """An IMAP folder ingest reads for a mailbox. The password is stored sealed and never
    returned. `after_action` move needs `move_to_folder` (422)."""

    model_config = ex.example_config(
        {
            "account_id": ex.SUPPORT_ACCOUNT_ID,
            "host": "imap.acme.example",
            "port": 993,
            "security": "ssl",
            "username": "support@acme.example",
            "password": "app-password-5f2k9q",
            "folder": "INBOX",
            "after_action": "move",
            "move_to_folder": "Processed",
            "poll_interval_seconds": 60,
            "use_idle": True,
            "is_active": True,
        }
    )

    account_id: uuid.UUID
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
    port: int = Field(default=993, ge=1, le=65535)
    security: ImapSecurity = "ssl"
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    folder: str = Field(default="INBOX", min_length=1, max_length=255)
    after_action: str = Field(default="flag", pattern=_AFTER_ACTION_PATTERN)
    move_to_folder: str | None = Field(default=None, min_length=1, max_length=255)
    poll_interval_seconds: int = Field(default=60, ge=10, le=86_400)
    use_idle: bool = True
    is_active: bool = True


class ImapMailboxUpdate(_Request):
    """Changes to an IMAP mailbox; omitted fields stay. A new `password` replaces the old."""

    model_config = ex.example_config({"poll_interval_seconds": 120, "use_idle": False})

    host: str | None = Field(
        default=None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$"
    )
    port: int | None = Field(default=None, ge=1, le=65535)
    security: ImapSecurity | None = None
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    folder: str | None = Field(default=None, min_length=1, max_length=255)
    after_action: str | None = Field(default=None, pattern=_AFTER_ACTION_PATTERN)
    move_to_folder: str | None = Field(default=None, min_length=1, max_length=255)
    poll_interval_seconds: int | None = Field(default=None, ge=10, le=86_400)
    use_idle: bool | None = None
    is_active: bool | None = None


class ImapMailboxView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "7a8b9c0d-1e2f-4a3b-8c5d-6e7f8a9b0c1d",
            "account_id": ex.SUPPORT_ACCOUNT_ID,
            "host": "imap.acme.example",
            "port": 993,
            "security": "ssl",
            "username": "support@acme.example",
            "folder": "INBOX",
            "after_action": "move",
            "move_to_folder": "Processed",
            "poll_interval_seconds": 60,
            "use_idle": True,
            "is_active": True,
            "created_at": "2026-10-01T09:15:00Z",
            "updated_at": "2026-10-01T09:15:00Z",
        }
    )

    id: uuid.UUID
    account_id: uuid.UUID
    host: str
    port: int
    security: str
    username: str
    folder: str
    after_action: str
    move_to_folder: str | None
    poll_interval_seconds: int
    use_idle: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ImapMailboxList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(ImapMailboxView)]})

    items: list[ImapMailboxView] = Field(description="oldest first")
