"""Admin: the tenant's webhook subscriptions, their deliveries, and its webhook settings."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from postdesk_contracts.api_webhooks import (
    WebhookDeliveryList,
    WebhookDeliveryView,
    WebhookSecret,
    WebhookSettings,
    WebhookSettingsUpdate,
    WebhookSubscriptionCreate,
    WebhookSubscriptionCreated,
    WebhookSubscriptionList,
    WebhookSubscriptionUpdate,
    WebhookSubscriptionView,
)
from postdesk_runtime.keyring import Keyring
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import webhooks
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import Cursor, DeliveryId, SubscriptionId


class WebhookAdminController(Controller):
    """Tenant admins only (403 for anyone else); another tenant's ids are 404."""

    path = "/admin/webhooks"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def list_subscriptions(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> WebhookSubscriptionList:
        """The tenant's subscriptions, newest first (never their secrets)."""
        return await webhooks.list_subscriptions(session, user)

    @post(status_code=201, responses=problems(400, 401, 403, 422))
    async def create_subscription(
        self,
        data: JSONBody[WebhookSubscriptionCreate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        keyring: NamedDependency[Keyring],
        client_ip: NamedDependency[str],
    ) -> WebhookSubscriptionCreated:
        """Subscribe a URL to event types. The answer holds the signing secret, shown only
        now; 422 (with the reason) for a URL the address guard refuses."""
        return await webhooks.create_subscription(session, keyring, user, data, ip=client_ip)

    @get("/{subscription_id:uuid}", responses=problems(400, 401, 403, 404))
    async def get_subscription(
        self,
        subscription_id: SubscriptionId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> WebhookSubscriptionView:
        """One subscription (without its secret)."""
        return await webhooks.get_subscription(session, user, subscription_id)

    @patch("/{subscription_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def update_subscription(
        self,
        subscription_id: SubscriptionId,
        data: JSONBody[WebhookSubscriptionUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> WebhookSubscriptionView:
        """Change the URL (checked like on create), description, event types or activity."""
        return await webhooks.update_subscription(
            session, user, subscription_id, data, ip=client_ip
        )

    @delete("/{subscription_id:uuid}", responses=problems(400, 401, 403, 404))
    async def delete_subscription(
        self,
        subscription_id: SubscriptionId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> None:
        """Remove the subscription and its deliveries (deactivate it to keep them)."""
        await webhooks.delete_subscription(session, user, subscription_id, ip=client_ip)

    @post(
        "/{subscription_id:uuid}/rotate-secret",
        status_code=200,
        responses=problems(400, 401, 403, 404),
    )
    async def rotate_secret(
        self,
        subscription_id: SubscriptionId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        keyring: NamedDependency[Keyring],
        client_ip: NamedDependency[str],
    ) -> WebhookSecret:
        """Replace the signing secret; the answer shows the new one, only now."""
        return await webhooks.rotate_secret(session, keyring, user, subscription_id, ip=client_ip)

    @post(
        "/{subscription_id:uuid}/test", status_code=202, responses=problems(400, 401, 403, 404, 409)
    )
    async def test_subscription(
        self,
        subscription_id: SubscriptionId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> WebhookDeliveryView:
        """Queue a `webhook.ping` delivery to check the receiver; follow it in the deliveries.
        409 for an inactive subscription."""
        return await webhooks.queue_ping(session, user, subscription_id, ip=client_ip)

    @get("/{subscription_id:uuid}/deliveries", responses=problems(400, 401, 403, 404))
    async def list_deliveries(
        self,
        subscription_id: SubscriptionId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="deliveries per page")] = 50,
        cursor: Cursor = None,
    ) -> WebhookDeliveryList:
        """The subscription's deliveries, newest first; follow `next_cursor` for more."""
        return await webhooks.list_deliveries(
            session, user, subscription_id, limit=limit, cursor=cursor
        )

    @post(
        "/{subscription_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
        status_code=200,
        responses=problems(400, 401, 403, 404, 409),
    )
    async def redeliver(
        self,
        subscription_id: SubscriptionId,
        delivery_id: DeliveryId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> WebhookDeliveryView:
        """Send a failed delivery again (due now, attempts counted afresh); 409 otherwise."""
        return await webhooks.redeliver(session, user, subscription_id, delivery_id, ip=client_ip)


class WebhookSettingsController(Controller):
    """The tenant's webhook settings. Tenant admins only."""

    path = "/admin/webhook-settings"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def get_settings(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> WebhookSettings:
        """Whether webhook URLs may reach private addresses."""
        return await webhooks.webhook_settings(session, user)

    @put(responses=problems(400, 401, 403))
    async def set_settings(
        self,
        data: JSONBody[WebhookSettingsUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> WebhookSettings:
        """Allow or refuse private, loopback and shared (CGNAT) webhook addresses (link-local,
        such as cloud metadata, stays refused)."""
        return await webhooks.set_webhook_settings(session, user, data, ip=client_ip)
