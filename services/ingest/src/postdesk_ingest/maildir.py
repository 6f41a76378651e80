"""Maildir watching: mail an MTA delivers into a directory is accepted, then moved to cur/.

Maildir delivery writes a message into tmp/ and renames it into new/, so
every file in new/ is complete; dotfiles are ignored. For each file the
watcher calls `accept_raw_mail` (blob, processing log, confirmed publish)
and only after it returns renames the file to `cur/<name>:2,S` (seen), the
acknowledgement of this channel. A failure leaves the file in new/: the
source is retried at the next scan after a backoff that doubles per failed
scan, up to `maildir_max_backoff_seconds`. A crash between the publish and
the rename re-accepts the file at the next scan as a duplicate (same dedupe
key, same event id, no second publish), then moves it.

Several replicas may watch one maildir: both may accept a file (same event
id, deduplicated) and the rename that loses finds the file gone, which
counts as done. A file larger than the size cap stays in new/ and is
reported once per process (never dropped silently).

Setting: `INGEST_MAILDIRS="/var/mail/acme=cs@acme.example,/srv/md=help@b.example"`
(or a JSON list); the part before the first "=" is the maildir, the rest
the envelope recipient. Polling every `INGEST_MAILDIR_POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import structlog
from postdesk_contracts.events import Channel
from postdesk_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode

from postdesk_ingest.service import Ports, UnavailableError, accept_raw_mail

log = structlog.get_logger(__name__)

SEEN_INFO = ":2,S"


class MaildirSettings(ServiceSettings):
    maildirs: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("INGEST_MAILDIRS", "maildirs"),
        description="maildirs to watch, each 'path=recipient@address', comma-separated or JSON",
    )
    maildir_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        validation_alias=AliasChoices("INGEST_MAILDIR_POLL_SECONDS", "maildir_poll_seconds"),
        description="how often the maildirs' new/ directories are scanned",
    )
    maildir_max_backoff_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias=AliasChoices(
            "INGEST_MAILDIR_MAX_BACKOFF_SECONDS", "maildir_max_backoff_seconds"
        ),
        description="longest wait before a failing maildir is scanned again (doubling)",
    )

    @field_validator("maildirs", mode="before")
    @classmethod
    def _split_entries(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("maildirs")
    @classmethod
    def _check_entries(cls, value: list[str]) -> list[str]:
        for entry in value:
            MaildirSource.parse(entry)
        return value

    def maildir_sources(self) -> list[MaildirSource]:
        return [MaildirSource.parse(entry) for entry in self.maildirs]


@dataclass(frozen=True)
class MaildirSource:
    """One watched maildir and the envelope recipient of everything delivered into it."""

    path: Path
    recipient: str

    @classmethod
    def parse(cls, entry: str) -> MaildirSource:
        path, sep, recipient = entry.partition("=")
        if not sep or not path.strip() or "@" not in recipient:
            raise ValueError(f"maildir entry must be 'path=recipient@address': {entry!r}")
        return cls(Path(path.strip()), recipient.strip().lower())

    @property
    def source(self) -> str:
        return f"maildir:{self.path}"


@dataclass
class _Backoff:
    failures: int = 0
    not_before: float = 0.0


@dataclass
class MaildirWatcher:
    """Polls its maildirs; `scan_once` is one pass, `start`/`stop` run it in the background."""

    sources: Sequence[MaildirSource]
    ports: Ports
    poll_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    max_bytes: int | None = None
    _backoff: dict[Path, _Backoff] = field(default_factory=dict)
    _reported_oversize: set[Path] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        if not self.sources:
            return
        for source in self.sources:
            for sub in ("tmp", "new", "cur"):
                await asyncio.to_thread((source.path / sub).mkdir, parents=True, exist_ok=True)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="maildir-watcher")
        log.info("watching maildirs", maildirs=[str(s.path) for s in self.sources])

    async def stop(self) -> None:
        """Finish the file in hand (its accept and move), then return."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.scan_once()
            except Exception:
                # an unforeseen failure must not end watching for good; the file
                # in hand is still in new/ and is retried at the next scan
                log.exception("maildir scan crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    async def scan_once(self) -> int:
        """One pass over every maildir not backing off; the number of files acknowledged."""
        done = 0
        now = asyncio.get_running_loop().time()
        for source in self.sources:
            backoff = self._backoff.setdefault(source.path, _Backoff())
            if now < backoff.not_before:
                continue
            try:
                done += await self._scan(source)
            except (UnavailableError, OSError) as error:
                backoff.failures += 1
                delay = min(self.poll_seconds * 2**backoff.failures, self.max_backoff_seconds)
                backoff.not_before = now + delay
                log.warning(
                    "maildir scan failed; files stay in new/",
                    maildir=str(source.path),
                    error=str(error),
                    retry_in_seconds=delay,
                )
            else:
                backoff.failures, backoff.not_before = 0, 0.0
        return done

    async def _scan(self, source: MaildirSource) -> int:
        done = 0
        for path in await asyncio.to_thread(_complete_files, source.path / "new"):
            if self._stopping.is_set():
                break
            try:
                raw = await asyncio.to_thread(self._read, path)
            except FileNotFoundError:
                continue  # moved by another watcher of the same maildir
            if raw is None:
                continue
            accepted = await accept_raw_mail(
                raw, [source.recipient], self.ports, channel=Channel.MAILDIR, source=source.source
            )
            await asyncio.to_thread(self._move_to_cur, path)
            log.debug(
                "maildir file accepted", status=accepted.status, event_id=str(accepted.event_id)
            )
            done += 1
        return done

    def _read(self, path: Path) -> bytes | None:
        if self.max_bytes is not None and path.stat().st_size > self.max_bytes:
            if path not in self._reported_oversize:
                self._reported_oversize.add(path)
                log.error("maildir file over the size cap; left in new/", path=str(path))
            return None
        return path.read_bytes()

    def _move_to_cur(self, path: Path) -> None:
        """The acknowledgement: new/<name> -> cur/<name>:2,S."""
        target = path.parent.parent / "cur" / (path.name.split(":", 1)[0] + SEEN_INFO)
        with contextlib.suppress(FileNotFoundError):  # another watcher moved it first
            os.rename(path, target)


def _complete_files(new_dir: Path) -> list[Path]:
    """Files delivered into new/, oldest name first; dotfiles and directories skipped."""
    with os.scandir(new_dir) as entries:
        names = sorted(
            entry.name
            for entry in entries
            if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False)
        )
    return [new_dir / name for name in names]


def maildir_watcher(settings: MaildirSettings, ports: Ports, *, max_bytes: int) -> MaildirWatcher:
    """The watcher the settings describe (it watches nothing when INGEST_MAILDIRS is empty)."""
    return MaildirWatcher(
        settings.maildir_sources(),
        ports,
        poll_seconds=settings.maildir_poll_seconds,
        max_backoff_seconds=settings.maildir_max_backoff_seconds,
        max_bytes=max_bytes,
    )
