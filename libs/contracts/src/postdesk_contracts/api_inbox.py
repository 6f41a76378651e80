"""Schemas of the gateway's inbox API (the list with its filters, the sidebar counts, unread
state, assignee and tag changes), shared with its clients. API models only, like `api`."""

from __future__ import annotations

import uuid
from typing import Final, Literal

from pydantic import Field

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import (
    ApiModel,
    TicketPriorityValue,
    TicketStatusValue,
    TicketSummary,
)

MAX_TAGS: Final = 20
MAX_TAG_CHARS: Final = 40

InboxView = Literal["all", "mine", "assigned", "department"]
InboxSort = Literal["last_message_at", "created_at", "priority", "number"]
SortDirection = Literal["asc", "desc"]
SlaState = Literal["ok", "warning", "breached"]
DateField = Literal["created_at", "last_message_at"]


class InboxTicket(TicketSummary):
    """A ticket in the inbox list, with the caller's own unread state."""

    model_config = ex.example_config(
        ex.example_of(TicketSummary)
        | {"sentiment": "negative", "unread": True, "assignee_name": "Ana Lima"}
    )

    sentiment: str | None = None
    unread: bool = Field(description="no read by you yet, or a message came after your last read")
    assignee_name: str = Field(default="", description="the assignee's full name; empty if none")


class InboxPage(ApiModel):
    model_config = ex.example_config(
        {"items": [ex.example_of(InboxTicket)], "next_cursor": ex.CURSOR}
    )

    items: list[InboxTicket]
    next_cursor: str | None = Field(
        default=None,
        description="pass as `cursor` (with the same sort and filters) for the next page; "
        "None on the last page",
    )


class InboxCounts(ApiModel):
    """The sidebar's numbers, over the tickets you can see (deleted ones never count)."""

    model_config = ex.example_config(
        {
            "unread": 4,
            "mine": 2,
            "assigned_to_me": 7,
            "my_department": 23,
            "all": None,
            "by_status": {"open": 18, "pending": 6, "resolved": 41, "closed": 230},
        }
    )

    unread: int = Field(description="tickets unread by you")
    mine: int = Field(description="tickets of your personal mailboxes")
    assigned_to_me: int = Field(description="open or pending tickets assigned to you")
    my_department: int = Field(description="tickets of your department (0 without one)")
    all: int | None = Field(default=None, description="every ticket of the tenant; admins only")
    by_status: dict[str, int] = Field(description="visible tickets per status")


class TagEdit(ApiModel):
    """`set` replaces the tags; otherwise `add` and `remove` edit them. Tags are lower-cased
    and trimmed."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config({"add": ["refund"], "remove": ["triage"]})
    )

    set: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    add: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    remove: list[str] = Field(default_factory=list, max_length=MAX_TAGS)


class TicketChangeRequest(ApiModel):
    """An agent's change to a ticket; omitted fields stay as they are. `assignee_id: null`
    unassigns. Unknown fields are refused rather than ignored."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config(
            {
                "status": "pending",
                "priority": "high",
                "assignee_id": ex.COLLEAGUE_ID,
                "tags": ex.example_of(TagEdit),
            }
        )
    )

    status: TicketStatusValue | None = None
    priority: TicketPriorityValue | None = None
    assignee_id: uuid.UUID | None = Field(
        default=None,
        description="assign to this user (can_assign_others, or can_send to take it "
        "yourself); null unassigns",
    )
    tags: TagEdit | None = None


class MergeRequest(ApiModel):
    """Merge the ticket of the path into `into_ticket_id`, which survives."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config({"into_ticket_id": ex.TICKET_ID})
    )

    into_ticket_id: uuid.UUID


class MergeResult(ApiModel):
    model_config = ex.example_config(
        {
            "ticket": ex.example_of(TicketSummary) | {"message_count": 3},
            "merged_ticket_id": ex.OTHER_TICKET_ID,
            "moved_messages": 1,
        }
    )

    ticket: TicketSummary = Field(description="the surviving ticket after the merge")
    merged_ticket_id: uuid.UUID = Field(description="the ticket absorbed (now closed)")
    moved_messages: int = Field(description="messages that moved to the surviving ticket")


__all__ = [
    "MAX_TAGS",
    "MAX_TAG_CHARS",
    "DateField",
    "InboxCounts",
    "InboxPage",
    "InboxSort",
    "InboxTicket",
    "InboxView",
    "MergeRequest",
    "MergeResult",
    "SlaState",
    "SortDirection",
    "TagEdit",
    "TicketChangeRequest",
]
