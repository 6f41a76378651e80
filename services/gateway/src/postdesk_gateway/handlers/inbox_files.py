"""Mail content on demand: attachment downloads and a message's full HTML body."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import inbox_files
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import AttachmentId, MessageId
from postdesk_gateway.inbox_files import ServedFile
from postdesk_gateway.uploads import Uploads


def _response(served: ServedFile) -> Response[bytes]:
    return Response(served.body, media_type=served.media_type, headers=served.headers)


class AttachmentController(Controller):
    path = "/attachments"
    tags = ["tickets"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get("/{attachment_id:uuid}", responses=problems(400, 401, 404))
    async def download(
        self,
        attachment_id: AttachmentId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        uploads: NamedDependency[Uploads],
    ) -> Response[bytes]:
        """The attachment's file, if you can see its ticket: always as a download
        (`Content-Disposition: attachment`), its type only from an allow-list. Audit-logged."""
        return _response(
            await inbox_files.download_attachment(
                session, user, attachment_id, blobs=uploads.blobs, ip=client_ip
            )
        )


class MessageController(Controller):
    path = "/messages"
    tags = ["tickets"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get("/{message_id:uuid}/html", media_type="text/html", responses=problems(400, 401, 404))
    async def html(
        self,
        message_id: MessageId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        uploads: NamedDependency[Uploads],
    ) -> Response[bytes]:
        """The message's full HTML body, sanitised, under a Content-Security-Policy that
        allows inline styles and embedded images only (load it in a sandboxed frame).
        Images the mail embeds come inline as data: URIs. Audit-logged."""
        return _response(
            await inbox_files.message_html(
                session, user, message_id, blobs=uploads.blobs, ip=client_ip
            )
        )
