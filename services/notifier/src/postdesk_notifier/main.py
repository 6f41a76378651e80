"""The notifier's composition root."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    ConsumerParts,
    Periodic,
    configure_logging,
    outbox_consumer_app,
    serve,
)

from postdesk_notifier.digest_scan import digest_job
from postdesk_notifier.email_channel import send_due_emails
from postdesk_notifier.handlers import register_handlers
from postdesk_notifier.service import SERVICE
from postdesk_notifier.settings import NotifierSettings
from postdesk_notifier.webhook_delivery import WebhookDeliverer

PUBLISHES = (EventType.NOTIFICATION_CREATED, EventType.OUTBOUND_REQUESTED)


def create_app(settings: NotifierSettings) -> AsgiFastStream:
    """Wire broker, database, outbox relay, the subscribers and the background jobs."""

    def register(parts: ConsumerParts) -> list[Periodic]:
        window = timedelta(seconds=settings.grouping_window_seconds)
        register_handlers(parts.broker, parts.sessions, parts.relay, window=window)
        return background_jobs(settings, parts)

    return outbox_consumer_app(SERVICE, settings, publishes=PUBLISHES, register=register)


def background_jobs(settings: NotifierSettings, parts: ConsumerParts) -> list[Periodic]:
    """The jobs started and stopped with the app (add one Periodic per job)."""
    return [
        Periodic(
            "notification-email",
            partial(
                send_due_emails,
                parts.sessions,
                app_url=settings.app_url,
                batch=settings.email_batch,
            ),
            interval=settings.email_interval_seconds,
            full_batch=settings.email_batch,
            after_work=parts.relay.wake,
        ),
        Periodic(
            "daily-digest",
            partial(
                digest_job,
                parts.sessions,
                batch=settings.digest_batch,
                catch_up=timedelta(hours=settings.digest_catch_up_hours),
            ),
            interval=settings.digest_interval_seconds,
            full_batch=settings.digest_batch,
            after_work=parts.relay.wake,
        ),
        Periodic(
            "webhook-delivery",
            WebhookDeliverer(parts.sessions, settings, settings.keyring()).deliver_due,
            interval=settings.webhook_interval_seconds,
            full_batch=settings.webhook_batch,
        ),
    ]


def run() -> None:
    settings = NotifierSettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
