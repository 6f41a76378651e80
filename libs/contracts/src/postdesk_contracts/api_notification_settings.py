"""The tenant's notification settings (admin API)."""

from __future__ import annotations

import uuid

from pydantic import Field

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel

FROM_ACCOUNT_SETTING = "notifications_from_account_id"


class NotificationSettings(ApiModel):
    model_config = ex.example_config({"from_account_id": ex.SUPPORT_ACCOUNT_ID})

    from_account_id: uuid.UUID | None = Field(
        default=None,
        description="the mailbox notification emails and digests are sent from; none: a "
        "ticket's own mailbox (digests: the tenant's first active shared mailbox)",
    )


class NotificationSettingsUpdate(NotificationSettings):
    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config({"from_account_id": ex.SUPPORT_ACCOUNT_ID})
    )
