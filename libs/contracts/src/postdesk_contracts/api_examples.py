"""Sample data for the API models' OpenAPI examples, and the helpers that attach it.

The examples describe one helpdesk, Acme: the same ids, people and mailboxes recur
across the models, so a client author can follow one ticket through the API.

Litestar's pydantic plugin shows a model config's `example` as the example of the
model's component schema; pydantic's own JSON schema reads `json_schema_extra`.
`example_config` sets both. Every example must validate against its own model:
the gateway's tests check that, and that no documented model lacks one.
"""

from __future__ import annotations

import copy
from typing import Any, Final, cast

from pydantic import BaseModel, ConfigDict

TENANT_ID: Final = "0b7f6a52-3c1e-4d8a-9f21-6e4b5c7d8e90"
ADMIN_ID: Final = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
AGENT_ID: Final = "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
COLLEAGUE_ID: Final = "e4d3c2b1-a0f9-4e8d-8c7b-6a5f4e3d2c1b"
DEPARTMENT_ID: Final = "2f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2918"
SUPPORT_ACCOUNT_ID: Final = "7e3d9c2b-1a4f-4e8b-b6c5-d4e3f2a1b0c9"
BILLING_ACCOUNT_ID: Final = "d2c1b0a9-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
PERSONAL_ACCOUNT_ID: Final = "c3b2a1f0-9e8d-4c7b-a6f5-e4d3c2b1a0f9"
TICKET_ID: Final = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
TICKET_NUMBER: Final = 1042
OTHER_TICKET_ID: Final = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5e"
MESSAGE_ID: Final = "4d3c2b1a-0f9e-4d8c-b7a6-958473625140"
REPLY_MESSAGE_ID: Final = "5e4d3c2b-1a0f-4e9d-8c7b-a69584736251"
OUTBOUND_ID: Final = "c0ffee00-1234-4abc-8def-0123456789ab"
ATTACHMENT_ID: Final = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"
EVENT_ID: Final = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"
CUSTOMER_EMAIL: Final = "jordan.blake@globex.example"
CUSTOMER_NAME: Final = "Jordan Blake"
CREATED_AT: Final = "2026-11-24T08:15:02Z"
REPLIED_AT: Final = "2026-11-24T09:40:11Z"
CURSOR: Final = "eyJrIjoiMjAyNi0xMS0yNFQwOToxMDoxMVoiLCJpZCI6IjliOGE3YzZkIn0"
_JWT_HEADER: Final = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
ACCESS_TOKEN: Final = _JWT_HEADER + ".eyJzdWIiOiI1YzFkMmUzZiJ9.TDx3aE8ffvV5n3mQ"
OFFICE_HOURS: Final = {day: [["09:00", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def example_config(example: dict[str, Any]) -> ConfigDict:
    """Model config giving a model its OpenAPI example; combine with `|` with other config."""
    return cast(ConfigDict, {"example": example, "json_schema_extra": {"examples": [example]}})


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """The example of `model`, to nest in the example of a model that contains it."""
    return copy.deepcopy(cast(dict[str, Any], cast(dict[str, Any], model.model_config)["example"]))
