"""Schemas of a ticket's staff: the colleagues who work or see its mailbox, so any agent on
the ticket can name them (assignee choice, @mentions, note authors). API models only."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel

StaffRole = Literal["primary", "backup", "viewer", "admin"]


class StaffMember(ApiModel):
    model_config = ex.example_config(
        {
            "id": ex.COLLEAGUE_ID,
            "full_name": "Ben Okafor",
            "email": "ben.okafor@acme.example",
            "role": "backup",
            "can_be_assignee": True,
            "mentionable": True,
        }
    )

    id: uuid.UUID
    full_name: str
    email: str
    role: StaffRole = Field(
        description="the role of the user's active assignment on the ticket's mailbox; "
        "`admin` for a tenant admin without one"
    )
    can_be_assignee: bool = Field(
        description="the ticket may be assigned to them (an active assignment other than viewer)"
    )
    mentionable: bool = Field(description="an @mention of their login in a note names them")


class StaffList(ApiModel):
    model_config = ex.example_config(
        {
            "items": [
                ex.example_of(StaffMember),
                {
                    "id": ex.ADMIN_ID,
                    "full_name": "Maya Chen",
                    "email": "maya.chen@acme.example",
                    "role": "admin",
                    "can_be_assignee": False,
                    "mentionable": True,
                },
            ]
        }
    )

    items: list[StaffMember] = Field(description="by full name, then login")
