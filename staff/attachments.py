"""Serving what people sent (a tip's attachments, a counselling conversation's photos and
voice notes) to signed-in staff: only types a browser may show safely render inline, never
sniffed or cached (as every response of the desk), and each sandboxed by its own CSP."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tips.model import AttachmentMeta


@dataclass(frozen=True)
class Shown:
    """How the desk serves one MIME type: inline as `show` ("download": never inline)
    and the file name's extension."""

    show: str
    extension: str


# Types a browser may show inline from this origin; everything else is a download (with
# the extension of its type, so a PDF opens as one once saved).
SHOWN: dict[str, Shown] = {
    "image/jpeg": Shown("image", "jpg"),
    "image/png": Shown("image", "png"),
    "audio/ogg": Shown("audio", "ogg"),
    "audio/mpeg": Shown("audio", "mp3"),
    "audio/mp4": Shown("audio", "m4a"),
    "video/mp4": Shown("video", "mp4"),
    "application/pdf": Shown("download", "pdf"),
    "text/plain": Shown("download", "txt"),
    "application/msword": Shown("download", "doc"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": Shown(
        "download", "docx"
    ),
    "application/vnd.ms-excel": Shown("download", "xls"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": Shown("download", "xlsx"),
    "application/vnd.oasis.opendocument.text": Shown("download", "odt"),
    "application/zip": Shown("download", "zip"),
}
UNKNOWN_TYPE = Shown("download", "bin")
ATTACHMENT_CSP = "default-src 'none'; sandbox"


def shown(mime_type: str) -> Shown:
    """How the desk serves `mime_type`."""
    return SHOWN.get(mime_type, UNKNOWN_TYPE)


def attachment_response(request: Request, data: bytes, meta: AttachmentMeta, stem: str) -> Response:
    """`data` as `meta` describes it, inline where its type may render (unless the URL
    asks `?download=1`), saved as `<stem>.<extension>` otherwise."""
    served = shown(meta.mime_type)
    inline = served.show != "download" and request.query_params.get("download") != "1"
    return Response(
        data,
        media_type=meta.mime_type if served.show != "download" else "application/octet-stream",
        headers={
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{stem}.{served.extension}"',
            "Content-Security-Policy": ATTACHMENT_CSP,
        },
    )
