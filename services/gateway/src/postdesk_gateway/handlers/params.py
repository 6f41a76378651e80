"""Parameters many routes share, each described once for the OpenAPI document.

The ids are path parameters: a handler declares `ticket_id: TicketId` where its
path has `{ticket_id:uuid}`."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar.params import PathParameter, QueryParameter

Cursor = Annotated[
    str | None,
    QueryParameter(
        description="the `next_cursor` of the previous page, with the same filters; "
        "left out for the first page"
    ),
]

AccountId = Annotated[uuid.UUID, PathParameter(description="the mailbox (email account)")]
AddressId = Annotated[uuid.UUID, PathParameter(description="the inbound address")]
AssignmentId = Annotated[uuid.UUID, PathParameter(description="the user's assignment to a mailbox")]
AttachmentId = Annotated[uuid.UUID, PathParameter(description="the attachment")]
DeliveryId = Annotated[uuid.UUID, PathParameter(description="the webhook delivery")]
DepartmentId = Annotated[uuid.UUID, PathParameter(description="the department")]
DomainId = Annotated[uuid.UUID, PathParameter(description="the inbound domain")]
ImapMailboxId = Annotated[uuid.UUID, PathParameter(description="the IMAP mailbox ingest reads")]
MessageId = Annotated[uuid.UUID, PathParameter(description="the message of a ticket")]
NotificationId = Annotated[uuid.UUID, PathParameter(description="your notification")]
OutboundId = Annotated[
    uuid.UUID, PathParameter(description="the queued mail: `outbound_id` of the reply or new mail")
]
PolicyId = Annotated[uuid.UUID, PathParameter(description="the SLA policy")]
SubscriptionId = Annotated[uuid.UUID, PathParameter(description="the webhook subscription")]
TicketId = Annotated[uuid.UUID, PathParameter(description="the ticket")]
TokenId = Annotated[uuid.UUID, PathParameter(description="the API token")]
UserId = Annotated[uuid.UUID, PathParameter(description="the user of the tenant")]
