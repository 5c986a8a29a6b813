"""Telling images from videos by their bytes, not their file names."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Literal

from dfdetect.errors import MediaError

MediaKind = Literal["image", "video"]

# Extensions used only to pick files out of folders; the kind itself is sniffed from content.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".jfif", ".avif"}
)
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"}
)
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS

_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
)
_VIDEO_MAGIC = (
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM
    b"FLV",
    b"\x00\x00\x01\xba",  # MPEG program stream
    b"\x00\x00\x01\xb3",  # MPEG-1/2 video elementary stream
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF / WMV
)
_AUDIO_MAGIC = (
    b"ID3",  # MP3 with an ID3 tag
    b"fLaC",
    b"OggS",  # Ogg (Vorbis, Opus; Theora video is too rare to tell apart here)
    b"#!AMR",
)
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_IMAGE_BRANDS = frozenset({b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"})


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def require_regular_file(path: str | Path) -> os.stat_result:
    """The ``stat`` of ``path`` (symlinks followed) when it is a regular file; never opens it.

    Raises :class:`MediaError` with reason ``missing``, ``symlink_loop`` or ``not_regular``
    (FIFOs, sockets and devices would block or never end when read).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError(path, "symlink_loop", "the symbolic links point in a circle") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            broken = os.path.islink(path)
            detail = "broken symbolic link" if broken else "no such file"
            raise MediaError(path, "missing", detail) from None
        raise MediaError(path, "unreadable", exc.strerror or str(exc)) from None
    for test, what in _NOT_REGULAR:
        if test(st.st_mode):
            raise MediaError(path, "not_regular", f"{what}, not a regular file: never read")
    return st


def sniff_media_kind(path: str | Path) -> MediaKind:
    """``"image"`` or ``"video"``, judged from the file's first bytes.

    Raises :class:`MediaError` with reason ``missing``, ``symlink_loop``, ``not_regular``,
    ``zero_byte``, ``no_video_stream`` (audio-only files) or ``not_media``.
    """
    path = Path(path)
    require_regular_file(path)
    with path.open("rb") as fh:
        head = fh.read(512)
    if not head:
        raise MediaError(path, "zero_byte", "the file is empty")
    if sniff_audio(head):  # the same reason the video reader gives a file without video
        raise MediaError(path, "no_video_stream", "an audio file: no picture to scan")
    kind = sniff_bytes(head)
    if kind is None:
        raise MediaError(path, "not_media", f"unrecognised content starting {head[:8]!r}")
    return kind


def sniff_bytes(head: bytes) -> MediaKind | None:
    """The media kind of a file starting with ``head`` (>= 16 bytes helps), or None."""
    if head.startswith(_IMAGE_MAGIC):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head[4:8] == b"ftyp":  # ISO base media: MP4, MOV, 3GP, or HEIF/AVIF stills
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # QuickTime without ftyp
        return "video"
    if head.startswith(_VIDEO_MAGIC):
        return "video"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:  # MPEG transport stream
        return "video"
    return None


def sniff_audio(head: bytes) -> bool:
    """Whether a file starting with ``head`` is audio only (MP3, AAC, WAV, FLAC, Ogg, M4A)."""
    if head.startswith(_AUDIO_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return True
    if head[4:8] == b"ftyp" and head[8:12] in _AUDIO_BRANDS:
        return True
    return len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # MPEG audio frame


def _box_type(code: bytes) -> bool:
    """Whether ``code`` can be an ISO box type: four printable ASCII characters (or the ©
    that QuickTime's metadata boxes start with)."""
    return len(code) == 4 and all(0x20 <= c <= 0x7E or c == 0xA9 for c in code)


def iso_media_truncated(path: str | Path) -> bool:
    """True when an ISO base media file (MP4, MOV) ends inside one of its top-level boxes,
    the mark of an interrupted download or recording. False for other formats, and for a file
    whose box headers are damaged (garbage is corrupt, not cut short)."""
    path = Path(path)
    size = path.stat().st_size
    offset = 0
    with path.open("rb") as fh:
        while offset + 8 <= size:
            fh.seek(offset)
            header = fh.read(16)
            box_size = int.from_bytes(header[:4], "big")
            if (offset == 0 and header[4:8] != b"ftyp") or not _box_type(header[4:8]):
                return False
            if box_size == 1 and len(header) >= 16:  # 64-bit size follows the type
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:  # the box runs to the end of the file
                return False
            if box_size < 8:
                return False
            offset += box_size
    return offset > size
