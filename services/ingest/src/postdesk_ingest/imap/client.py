"""One IMAP session over imap-tools: blocking calls, made from a worker thread only.

Fetches use BODY.PEEK[] so reading never sets \\Seen; flags and moves are
separate commands the caller issues after mail.received is confirmed.
`abort()` may be called from another thread to unblock a session stuck in
a read or in IDLE (used on shutdown).

Errors: every failure of the server or the connection raises one of
`TRANSIENT_ERRORS`; the caller reconnects with a backoff.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError
from imap_tools.utils import encode_folder

from postdesk_ingest.imap.domain import AfterAction

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    imaplib.IMAP4.error,
    ImapToolsError,
    OSError,
    EOFError,
)
_UID = re.compile(rb"UID (\d+)")


class ImapCommandError(imaplib.IMAP4.error):
    """The server answered NO or BAD to a command."""


@dataclass(frozen=True)
class Selected:
    folder: str
    uidvalidity: int
    exists: int


class ImapSession:
    def __init__(self, mailbox: BaseMailBox) -> None:
        self._mailbox = mailbox
        self._client = mailbox.client
        self.capabilities: frozenset[str] = frozenset()

    @classmethod
    def open(
        cls, host: str, port: int, security: str, username: str, password: str, *, timeout: float
    ) -> ImapSession:
        """Connect and log in; `security` is "ssl", "starttls" or "plain"."""
        mailbox: BaseMailBox
        if security == "ssl":
            mailbox = MailBox(host, port, timeout=timeout)
        elif security == "starttls":
            mailbox = MailBoxStartTls(host, port, timeout=timeout)
        elif security == "plain":
            mailbox = MailBoxUnencrypted(host, port, timeout=timeout)
        else:
            raise ValueError(f"unknown IMAP security {security!r}: use ssl, starttls or plain")
        try:
            mailbox.login(username, password, initial_folder=None)
            session = cls(mailbox)
            session._refresh_capabilities()
        except BaseException:
            with contextlib.suppress(*TRANSIENT_ERRORS):
                mailbox.client.shutdown()
            raise
        return session

    @property
    def supports_idle(self) -> bool:
        return "IDLE" in self.capabilities

    def _refresh_capabilities(self) -> None:
        # the greeting's list may change after login (MOVE, UIDPLUS appear only then)
        data = self._ok(self._client.capability())
        self.capabilities = frozenset(data[-1].decode().upper().split())
        self._client.capabilities = tuple(sorted(self.capabilities))

    def select(self, folder: str, *, readonly: bool = False) -> Selected:
        data = self._ok(self._client.select(encode_folder(folder), readonly))  # type: ignore[arg-type]  # imaplib takes bytes too
        uidvalidity = self._client.response("UIDVALIDITY")[1]
        if not uidvalidity or uidvalidity[0] is None:
            raise ImapCommandError(f"no UIDVALIDITY for {folder!r}")
        return Selected(folder, int(uidvalidity[-1]), int(data[0] or 0))

    def uids_after(self, last_uid: int) -> list[int]:
        data = self._ok(self._client.uid("SEARCH", f"UID {last_uid + 1}:*"))
        return [int(uid) for uid in (data[0] or b"").split()]

    def fetch_raw(self, uids: list[int]) -> dict[int, bytes]:
        """Raw bytes by UID; a UID missing from the answer was expunged meanwhile."""
        if not uids:
            return {}
        data = self._ok(self._client.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])"))
        found: dict[int, bytes] = {}
        for index, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            match = _UID.search(item[0])
            if match is None and index + 1 < len(data) and isinstance(data[index + 1], bytes):
                match = _UID.search(data[index + 1])  # some servers send UID after the literal
            if match is not None:
                found[int(match.group(1))] = item[1]
        return found

    def apply(self, uid: int, action: AfterAction) -> None:
        """The after-action for one message of the selected folder."""
        if action.kind == "flag":
            self._ok(self._client.uid("STORE", str(uid), "+FLAGS.SILENT", f"({action.flag})"))
        elif action.kind == "move":
            assert action.folder is not None  # AfterAction.parse guarantees it
            folder = encode_folder(action.folder).decode()
            if "MOVE" in self.capabilities:
                self._ok(self._client.uid("MOVE", str(uid), folder))
            else:
                self._ok(self._client.uid("COPY", str(uid), folder))
                self._ok(self._client.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)"))
                if "UIDPLUS" in self.capabilities:
                    self._ok(self._client.uid("EXPUNGE", str(uid)))
                else:
                    self._ok(self._client.expunge())

    def ensure_folder(self, folder: str) -> None:
        if not self._mailbox.folder.exists(folder):
            self._mailbox.folder.create(folder)

    def wait_for_change(self, timeout: float) -> None:
        """IDLE until the server reports something or `timeout` passes."""
        self._mailbox.idle.wait(timeout=timeout)

    def noop(self) -> None:
        self._ok(self._client.noop())

    def append(self, raw: bytes, folder: str) -> None:
        self._mailbox.append(raw, folder)

    def abort(self) -> None:
        """Cut the connection (from any thread): a blocked read in the session's thread fails."""
        with contextlib.suppress(OSError):
            self._client.sock.shutdown(socket.SHUT_RDWR)

    def discard(self) -> None:
        """Close the socket without a word to the server (does not block)."""
        with contextlib.suppress(*TRANSIENT_ERRORS):
            self._client.shutdown()

    def close(self) -> None:
        with contextlib.suppress(*TRANSIENT_ERRORS):
            self._client.logout()
        with contextlib.suppress(*TRANSIENT_ERRORS):
            self._client.shutdown()

    @staticmethod
    def _ok(result: tuple[str, Sequence[Any]]) -> list[Any]:
        """The data of an OK answer (bytes, and (header, literal) tuples for FETCH)."""
        typ, data = result
        if typ != "OK":
            raise ImapCommandError(f"server answered {typ}: {data!r}"[:300])
        return list(data)
