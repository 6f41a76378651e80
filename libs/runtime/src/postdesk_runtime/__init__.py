"""The runtime kit shared by every postdesk service.

Nothing here does I/O at import time: services build what they need in
their composition root (`main.create_app(settings)`).
"""

from postdesk_runtime.app import ConsumerParts, consumer_app, outbox_consumer_app
from postdesk_runtime.blobcrypto import EncryptedBlobStore
from postdesk_runtime.blobfactory import make_blob_store
from postdesk_runtime.blobstore import (
    BlobBackend,
    BlobIntegrityError,
    BlobNotFoundError,
    BlobStore,
    LocalBlobStore,
    blob_ref,
)
from postdesk_runtime.broker import (
    EventPublisher,
    declare_topology,
    events_exchange,
    make_broker,
    subscriber,
)
from postdesk_runtime.db import (
    Sessions,
    insert_rows,
    make_counter_engine,
    make_engine,
    make_sessions,
)
from postdesk_runtime.inbox import claim_event
from postdesk_runtime.logging import configure_logging
from postdesk_runtime.outbox import OutboxRelay, add_to_outbox, outbox_row
from postdesk_runtime.periodic import Periodic
from postdesk_runtime.serve import serve
from postdesk_runtime.settings import ServiceSettings
from postdesk_runtime.threadtokens import ThreadTokens
from postdesk_runtime.tracing import configure_tracing, exports_spans, shutdown_tracing
from postdesk_runtime.wiring import broker_for, engine_for

__all__ = [
    "BlobBackend",
    "BlobIntegrityError",
    "BlobNotFoundError",
    "BlobStore",
    "ConsumerParts",
    "EncryptedBlobStore",
    "EventPublisher",
    "LocalBlobStore",
    "OutboxRelay",
    "Periodic",
    "ServiceSettings",
    "Sessions",
    "ThreadTokens",
    "add_to_outbox",
    "blob_ref",
    "broker_for",
    "claim_event",
    "configure_logging",
    "configure_tracing",
    "consumer_app",
    "declare_topology",
    "engine_for",
    "events_exchange",
    "exports_spans",
    "insert_rows",
    "make_blob_store",
    "make_broker",
    "make_counter_engine",
    "make_engine",
    "make_sessions",
    "outbox_consumer_app",
    "outbox_row",
    "serve",
    "shutdown_tracing",
    "subscriber",
]
