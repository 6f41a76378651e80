"""Uploads: files stored for a later reply or new mail, named there by `upload_id`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from postdesk_contracts.api import UploadResult

from postdesk_gateway.domain import CurrentUser, InvalidRequestError
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.uploads import Uploads

# What a multipart body may carry beyond the file itself (boundaries, part headers).
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class UploadController(Controller):
    path = "/uploads"
    tags = ["uploads"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @post(status_code=201, responses=problems(400, 401, 413))
    async def upload(
        self,
        request: Request[Any, Any, State],
        user: NamedDependency[CurrentUser],
        uploads: NamedDependency[Uploads],
    ) -> UploadResult:
        """Store one file (multipart/form-data: one file part, any field name) to attach to
        a reply or a new mail: name its `upload_id` in their `attachments` within 24 hours.
        The file name loses any path and control characters; the type defaults to
        application/octet-stream. 413 over the size limit, 400 without exactly one file."""
        # The form is read here, not bound by Litestar: a body without a file part must
        # be a 400, and binding answers it with a 500.
        form = await request.form()
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        try:
            if len(files) != 1:
                raise InvalidRequestError(
                    f"send exactly one file as multipart/form-data (got {len(files)})"
                )
            [upload] = files
            content = await upload.read()
        finally:
            for file in files:
                await file.close()
        return await uploads.store(
            user, filename=upload.filename, content_type=upload.content_type, data=content
        )
