"""Attachments: strip what a file says about its author before it is sealed.

A phone photo carries EXIF: GPS position, device make and serial, the exact time — enough
to find a tipster. Photos (and images sent "as a file", which Telegram does not recompress)
are decoded and re-encoded from their pixels alone into a fresh JPEG, so no metadata block
(EXIF, XMP, ICC, comments, thumbnails) can survive. Voice notes, videos and other documents
are kept unchanged (we cannot rewrite every format) but size-checked.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

from tips.model import (
    MAX_ATTACHMENT_BYTES,
    AttachmentKind,
    AttachmentMeta,
    AttachmentTooLarge,
    TipError,
)

MAX_PIXELS = 40_000_000  # refuse decompression bombs well before Pillow's own limit
MAX_SIDE = 4096  # larger photos are scaled down: detail beyond this only costs storage
JPEG_QUALITY = 85
JPEG_MIME = "image/jpeg"
_DEFAULT_MIME = {
    AttachmentKind.VOICE: "audio/ogg",
    AttachmentKind.VIDEO: "video/mp4",
    AttachmentKind.DOCUMENT: "application/octet-stream",
}


class MediaError(TipError):
    """Root of the attachment-processing errors."""


class NotAnImage(MediaError):
    """A photo that Pillow cannot decode (not an image, truncated, or an unknown format)."""


class ImageTooLarge(MediaError):
    """An image with more pixels than `MAX_PIXELS` (a possible decompression bomb)."""


class EmptyAttachment(MediaError):
    """A zero-byte file."""


@dataclass(frozen=True)
class PreparedAttachment:
    """An attachment ready to be sealed: its bytes and the metadata sealed with the tip."""

    meta: AttachmentMeta
    data: bytes = field(repr=False)


def check_size(data: bytes, limit: int = MAX_ATTACHMENT_BYTES) -> bytes:
    """`data` unchanged if it is not empty and at most `limit` bytes."""
    if not data:
        raise EmptyAttachment("empty file")
    if len(data) > limit:
        raise AttachmentTooLarge(f"{len(data)} bytes > {limit}")
    return data


def strip_image(data: bytes, max_side: int = MAX_SIDE) -> bytes:
    """A JPEG with the same picture and nothing else: no EXIF, GPS, XMP, ICC or comment.

    The EXIF orientation is applied first, so the photo stays upright once the tag is gone.
    """
    check_size(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise ImageTooLarge(f"{width}x{height} pixels")
                opened.seek(0)  # first frame of an animation
                upright = ImageOps.exif_transpose(opened)
                pixels = upright.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLarge("image too large") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise NotAnImage("not a readable image") from error
    # A brand-new image built from raw pixels has an empty `info`: nothing to carry over.
    clean = Image.frombytes("RGB", pixels.size, pixels.tobytes())
    if max(clean.size) > max_side:
        clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _looks_like_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.format is not None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return False
    except Image.DecompressionBombError:
        return True  # strip_image will refuse it with a clear error


def prepare_attachment(
    kind: AttachmentKind, data: bytes, mime_type: str | None = None
) -> PreparedAttachment:
    """What gets sealed for one downloaded attachment.

    Photos are stripped (and must be images). Documents that turn out to be images are
    stripped too — sending a photo "as a file" is exactly how EXIF reaches a bot. Other
    kinds pass through unchanged after the size check; their own metadata (e.g. a PDF's
    author) is not removed, which the tip flow should tell tipsters.
    """
    check_size(data)
    if kind is AttachmentKind.PHOTO or (
        kind is AttachmentKind.DOCUMENT and _looks_like_image(data)
    ):
        stripped = strip_image(data)
        return PreparedAttachment(AttachmentMeta(kind, JPEG_MIME, len(stripped)), stripped)
    mime = (mime_type or _DEFAULT_MIME[kind]).strip().lower()[:100] or _DEFAULT_MIME[kind]
    return PreparedAttachment(AttachmentMeta(kind, mime, len(data)), data)
