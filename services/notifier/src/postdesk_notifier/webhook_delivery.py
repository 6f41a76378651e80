"""POSTing due webhook deliveries to their receivers, signed, through the address guard.

`WebhookDeliverer.deliver_due` (a Periodic job) claims a batch in one short
transaction (see `webhook_store.claim_due`), then makes one attempt at each,
`webhook_concurrency` at a time, and records each outcome in its own
transaction as soon as it is known, so a slow or dead receiver holds up only
its own deliveries.

Each attempt, all within `webhook_timeout_seconds`: the subscription's URL
is vetted (`postdesk_runtime.netguard`; the tenant setting
`webhooks_allow_private_targets` admits private addresses), then the request
goes to a vetted address itself, with the Host header and TLS server name of
the URL's host, so a second DNS answer cannot redirect it. Redirects are
not followed, proxies from the environment are not used, connections are
not reused across deliveries, and the response body is never read.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx
import structlog
from postdesk_runtime import Sessions
from postdesk_runtime.keyring import Keyring, KeyringError
from postdesk_runtime.netguard import ResolutionError, UnsafeUrlError, VettedUrl, vet_url
from postdesk_runtime.webhook_signing import SIGNATURE_HEADER, open_secret, signature_header

from postdesk_notifier import webhook_store
from postdesk_notifier.settings import NotifierSettings
from postdesk_notifier.webhook_rules import AttemptResult, RetryPolicy, request_body, settle
from postdesk_notifier.webhook_store import DeliveryClaim

USER_AGENT: Final = "postdesk-webhooks"

log = structlog.get_logger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebhookDeliverer:
    """Delivers due webhook deliveries; several may run side by side (each delivery goes to
    one of them). `clock` and `rand` (the backoff's jitter) are for tests to drive."""

    def __init__(
        self,
        sessions: Sessions,
        settings: NotifierSettings,
        keyring: Keyring,
        *,
        clock: Callable[[], datetime] = _utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._clock = clock
        self._rand = rand
        self._batch = settings.webhook_batch
        self._concurrency = settings.webhook_concurrency
        self._timeout = settings.webhook_timeout_seconds
        self._stall = timedelta(seconds=settings.webhook_stall_seconds)
        self._ca_file = settings.webhook_ca_file
        self._policy = RetryPolicy(
            max_attempts=settings.webhook_max_attempts,
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            cap=timedelta(seconds=settings.webhook_retry_cap_seconds),
        )

    async def deliver_due(self) -> int:
        """One attempt at each of up to `webhook_batch` due deliveries; the number claimed."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            claims = await webhook_store.claim_due(
                session, now=now, stalled_before=now - self._stall, batch=self._batch
            )
        if not claims:
            return 0
        slots = asyncio.Semaphore(self._concurrency)
        async with self._client() as client, asyncio.TaskGroup() as group:
            for claim in claims:
                group.create_task(self._deliver(client, slots, claim))
        return len(claims)

    def _client(self) -> httpx.AsyncClient:
        verify = ssl.create_default_context(cafile=self._ca_file) if self._ca_file else True
        return httpx.AsyncClient(
            verify=verify,
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            trust_env=False,
            # No keep-alive: a connection opened for one host name (TLS server name) must
            # never carry a request for another host that shares its address.
            limits=httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=0),
        )

    async def _deliver(
        self, client: httpx.AsyncClient, slots: asyncio.Semaphore, claim: DeliveryClaim
    ) -> None:
        async with slots:
            result = await self._attempt(client, claim)
        now = self._clock()
        settlement = settle(
            result,
            attempts=claim.attempts,
            previous_log=claim.attempt_log,
            now=now,
            policy=self._policy,
            rand=self._rand,
        )
        async with self._sessions() as session, session.begin():
            recorded = await webhook_store.record(session, claim, settlement, now=now)
        log.info(
            "webhook attempt",
            delivery_id=str(claim.id),
            event_type=claim.event_type,
            attempt=claim.attempts,
            status=settlement.status.value,
            response_status=result.response_status,
            error=result.error or None,
            recorded=recorded,
        )

    async def _attempt(self, client: httpx.AsyncClient, claim: DeliveryClaim) -> AttemptResult:
        if not claim.subscription_active:
            return AttemptResult(error="the subscription is inactive", permanent=True)
        if claim.attempts > self._policy.max_attempts:
            return AttemptResult(
                error=f"the last of {self._policy.max_attempts} attempts was interrupted",
                permanent=True,
            )
        try:
            secret = open_secret(self._keyring, claim.secret_sealed)
        except KeyringError as error:
            return AttemptResult(error=f"the signing secret cannot be opened: {error}")
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                target = await vet_url(claim.url, allow_private=claim.allow_private)
                status = await _post_pinned(client, target, claim, secret)
        except UnsafeUrlError as error:
            result = AttemptResult(error=f"refused: {error}", permanent=True)
        except ResolutionError as error:
            result = AttemptResult(error=str(error))
        except (TimeoutError, httpx.TimeoutException):
            result = AttemptResult(error=f"no response within {self._timeout:g} s")
        except (httpx.HTTPError, OSError) as error:
            detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            result = AttemptResult(error=detail)
        else:
            result = AttemptResult(response_status=status)
        duration_ms = round((time.monotonic() - started) * 1000)
        return AttemptResult(result.response_status, result.error, result.permanent, duration_ms)


async def _post_pinned(
    client: httpx.AsyncClient, target: VettedUrl, claim: DeliveryClaim, secret: str
) -> int:
    """POST the signed payload to the first vetted address that accepts a connection; the
    response's status code. ConnectError naming each address's failure if none does."""
    body = request_body(claim.payload)
    headers = {
        "Host": target.url.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Postdesk-Event-Id": str(claim.event_id),
        "Postdesk-Event-Type": claim.event_type,
        "Postdesk-Delivery-Id": str(claim.id),
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
    }
    extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
    failures: list[str] = []
    for address in target.addresses:
        request = client.build_request(
            "POST",
            target.url.url_for(address),
            content=body,
            headers=headers,
            extensions=extensions,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError as error:  # refused, unreachable, or the TLS handshake
            failures.append(f"{address}: {str(error) or type(error).__name__}")
            continue
        await response.aclose()
        return response.status_code
    raise httpx.ConnectError("; ".join(failures))
