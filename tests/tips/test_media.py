"""Attachments: photos lose every metadata block; other files are only size-checked."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from tips.media import (
    JPEG_MIME,
    EmptyAttachment,
    ImageTooLarge,
    NotAnImage,
    prepare_attachment,
    strip_image,
)
from tips.model import MAX_ATTACHMENT_BYTES, AttachmentKind, AttachmentTooLarge

GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (12.0, 39.0, 21.5),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (8.0, 0.0, 10.25),
}


def photo_with_exif(size: tuple[int, int] = (64, 48), orientation: int | None = None) -> bytes:
    """A JPEG the way a phone writes it: GPS position, device, owner, comment."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SPYPHONE-MAKER"
    exif[ExifTags.Base.Model] = "SPYPHONE-MODEL"
    exif[ExifTags.Base.Artist] = "Moussa Keita"
    exif[ExifTags.Base.DateTime] = "2025:03:14 14:37:12"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"COMMENT-MARKER")
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it is there
    return data


def test_strip_image_removes_gps_and_every_metadata_block() -> None:
    original = photo_with_exif()
    stripped = strip_image(original)
    for marker in [b"Exif", b"SPYPHONE", b"Moussa", b"COMMENT-MARKER", b"2025:03:14"]:
        assert marker in original
        assert marker not in stripped
    image = Image.open(io.BytesIO(stripped))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert {"exif", "comment", "icc_profile", "xmp"}.isdisjoint(image.info)
    assert image.size == (64, 48)
    red, green, blue = image.convert("RGB").getpixel((32, 24))  # type: ignore[misc]
    assert red > 150
    assert green < 80
    assert blue < 80


def test_orientation_is_applied_before_the_tag_is_dropped() -> None:
    stripped = strip_image(photo_with_exif((40, 20), orientation=6))  # "rotate 90° CW"
    assert Image.open(io.BytesIO(stripped)).size == (20, 40)


def test_png_text_chunks_are_dropped_too() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "PNG-AUTHOR-MARKER")
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    stripped = strip_image(out.getvalue())
    assert b"PNG-AUTHOR-MARKER" not in stripped
    assert Image.open(io.BytesIO(stripped)).format == "JPEG"


def test_large_photos_are_scaled_down() -> None:
    out = io.BytesIO()
    Image.new("RGB", (5000, 100)).save(out, "PNG")
    assert max(Image.open(io.BytesIO(strip_image(out.getvalue()))).size) == 4096


def test_non_images_are_refused() -> None:
    with pytest.raises(NotAnImage):
        strip_image(b"%PDF-1.4 not a photo")
    with pytest.raises(NotAnImage):
        strip_image(photo_with_exif()[:200])  # truncated
    with pytest.raises(EmptyAttachment):
        strip_image(b"")


def test_decompression_bombs_are_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, "PNG")  # 48 Mpx, a few kB on disk
    with pytest.raises(ImageTooLarge):
        strip_image(out.getvalue())


def test_oversized_files_are_refused() -> None:
    with pytest.raises(AttachmentTooLarge):
        prepare_attachment(AttachmentKind.VOICE, b"\0" * (MAX_ATTACHMENT_BYTES + 1))


def test_voice_and_documents_pass_through_unchanged() -> None:
    voice = prepare_attachment(AttachmentKind.VOICE, b"OggS fake voice")
    assert voice.data == b"OggS fake voice"
    assert (voice.meta.mime_type, voice.meta.size) == ("audio/ogg", 15)
    pdf = prepare_attachment(AttachmentKind.DOCUMENT, b"%PDF-1.4 ...", "Application/PDF")
    assert pdf.data == b"%PDF-1.4 ..."
    assert pdf.meta.mime_type == "application/pdf"


def test_photos_and_images_sent_as_documents_are_stripped() -> None:
    original = photo_with_exif()
    for kind in (AttachmentKind.PHOTO, AttachmentKind.DOCUMENT):
        prepared = prepare_attachment(kind, original, "image/jpeg")
        assert b"SPYPHONE" not in prepared.data
        assert prepared.meta.mime_type == JPEG_MIME
        assert prepared.meta.size == len(prepared.data)
    with pytest.raises(NotAnImage):
        prepare_attachment(AttachmentKind.PHOTO, b"not an image")
