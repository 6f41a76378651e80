"""postdesk's database schema: SQLModel tables and Alembic migrations.

Each table has one owning service (named in its module docstring); other
services only read it. `migrate(database_url)` brings a database to head.
"""

from postdesk_schema.automation import AutomaticMail, SlaPolicy, SlaTimer
from postdesk_schema.delivery import (
    Notification,
    NotificationDigest,
    OutboundMessage,
    SmtpServer,
    WebhookDelivery,
    WebhookSubscription,
)
from postdesk_schema.inbound import ImapMailbox, ImapSyncState, InboundAddress, InboundDomain
from postdesk_schema.infra import OutboxEvent, ProcessedEvent
from postdesk_schema.logs import AuditLog, EmailProcessingLog
from postdesk_schema.migrate import migrate
from postdesk_schema.tenancy import (
    AccountKind,
    ApiToken,
    AssignmentRole,
    Department,
    DepartmentManager,
    EmailAccount,
    EmailAssignment,
    RefreshToken,
    TakeTicketNumber,
    Tenant,
    TenantRole,
    TicketNumbers,
    User,
    take_ticket_number,
)
from postdesk_schema.tickets import (
    Attachment,
    Message,
    Ticket,
    TicketHistory,
    TicketNote,
    TicketPriority,
    TicketRead,
    TicketStatus,
)

__all__ = [
    "AccountKind",
    "ApiToken",
    "AssignmentRole",
    "Attachment",
    "AuditLog",
    "AutomaticMail",
    "Department",
    "DepartmentManager",
    "EmailAccount",
    "EmailAssignment",
    "EmailProcessingLog",
    "ImapMailbox",
    "ImapSyncState",
    "InboundAddress",
    "InboundDomain",
    "Message",
    "Notification",
    "NotificationDigest",
    "OutboundMessage",
    "OutboxEvent",
    "ProcessedEvent",
    "RefreshToken",
    "SlaPolicy",
    "SlaTimer",
    "SmtpServer",
    "TakeTicketNumber",
    "Tenant",
    "TenantRole",
    "Ticket",
    "TicketHistory",
    "TicketNote",
    "TicketNumbers",
    "TicketPriority",
    "TicketRead",
    "TicketStatus",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
    "migrate",
    "take_ticket_number",
]
