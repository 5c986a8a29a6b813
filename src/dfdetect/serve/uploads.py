"""Uploads streamed into the service's own storage: bounded in size and time, sniffed by content.

A request body is either ``multipart/form-data`` with one ``file`` field (what browsers and
``curl -F file=@x.jpg`` send; a second ``file`` part is refused, other fields are ignored) or the
raw file bytes (``curl --data-binary @x.jpg``). Bytes are
written as they arrive to ``<data_dir>/uploads/<random hex>``; the size bound is enforced on the
way in (413 as soon as it is crossed, or at once from ``Content-Length``), never after reading
everything. The client's filename is kept for display only and never becomes a path.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from dfdetect.errors import MediaError
from dfdetect.media import sniff_media_kind
from dfdetect.serve.problems import Problem, problem_responses

FORM_FIELD = "file"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small extra fields
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")

# The body a route documents in OpenAPI (the route itself reads the stream).
UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {FORM_FIELD: {"type": "string", "format": "binary"}},
                    "required": [FORM_FIELD],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
UPLOAD_ERRORS = {  # what the upload routes may answer (OpenAPI)
    **problem_responses(400, "malformed or empty upload"),
    **problem_responses(401, "missing or wrong API key"),
    **problem_responses(408, "the upload took too long"),
    **problem_responses(413, "upload over the size limit"),
    **problem_responses(415, "content is not a supported image or video"),
    **problem_responses(429, "too many requests in flight or the job queue is full"),
    **problem_responses(503, "the model is still loading or failed to load"),
}


@dataclass(frozen=True)
class StoredUpload:
    """An upload saved under the service's storage, with its sniffed media kind."""

    path: Path
    filename: str
    size: int
    kind: str


def display_name(raw: str | None) -> str:
    """The client's filename reduced to a printable base name (for display, never a path)."""
    name = _UNSAFE.sub("", (raw or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:200] or "upload"


class _Sink:
    """Writes the file's bytes to disk, failing with 413 once ``max_bytes`` is crossed."""

    def __init__(self, out: BinaryIO, max_bytes: int) -> None:
        self.out = out
        self.max_bytes = max_bytes
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        self.out.write(data)


def too_large(max_bytes: int) -> Problem:
    """The 413 answer for a body over ``max_bytes``."""
    return Problem(413, "too_large", f"upload exceeds the limit of {max_bytes} bytes")


class _FormFile:
    """Streams the ``file`` part of a multipart body into a sink; other parts are dropped, a
    second ``file`` part is refused (400: which one was meant is not ours to guess)."""

    def __init__(self, boundary: bytes, sink: _Sink) -> None:
        self.sink = sink
        self.filename: str | None = None
        self.seen_file = False
        self._in_file = False
        self._header = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header.lower()] = self._value
        self._header = self._value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._in_file = params.get(b"name") == FORM_FIELD.encode()
        if self._in_file:
            if self.seen_file:
                raise Problem(
                    400,
                    "several_files",
                    f"multipart body has more than one '{FORM_FIELD}' part: send one per request",
                )
            self.seen_file = True
            raw = params.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.sink.write(data[start:end])

    def _part_end(self) -> None:
        self._in_file = False


async def receive_upload(
    request: Request, dest_dir: Path, max_bytes: int, timeout_s: float
) -> StoredUpload:
    """Stream the request's file into ``dest_dir`` under a random name, then sniff its kind.

    Raises :class:`Problem`: 413 over ``max_bytes``, 408 when the body takes longer than
    ``timeout_s``, 400 for a malformed or empty form or one with several files, 415 when the
    content is not an image or video. The partial file is removed on every failure (a client
    that hangs up raises starlette's ``ClientDisconnect``).
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    multipart = content_type == b"multipart/form-data"
    if multipart and not params.get(b"boundary"):
        raise Problem(400, "bad_form", "multipart/form-data without a boundary")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + (MULTIPART_OVERHEAD if multipart else 0):
        raise too_large(max_bytes)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / uuid.uuid4().hex
    try:
        with path.open("xb") as out:
            sink = _Sink(out, max_bytes)
            form = _FormFile(params[b"boundary"], sink) if multipart else None
            body_bound = max_bytes + MULTIPART_OVERHEAD
            received = 0
            try:
                with anyio.fail_after(timeout_s):
                    async for chunk in request.stream():
                        received += len(chunk)
                        if received > body_bound:
                            raise too_large(max_bytes)
                        if form is None:
                            sink.write(chunk)
                        else:
                            form.parser.write(chunk)
                    if form is not None:
                        form.parser.finalize()
            except TimeoutError:
                raise Problem(408, "upload_timeout", f"upload took over {timeout_s:g} s") from None
            except MultipartParseError as err:
                raise Problem(400, "bad_form", f"malformed multipart body: {err}") from None
            if form is not None and not form.seen_file:
                raise Problem(400, "no_file", f"multipart body has no '{FORM_FIELD}' field")
        filename = display_name(form.filename if form is not None else None)
        if sink.size == 0:
            raise Problem(400, "empty", f"{filename}: the upload is empty")
        try:
            kind = sniff_media_kind(path)
        except MediaError as err:
            reason = f"{err.reason} ({err.detail})" if err.detail else err.reason
            raise Problem(415, "unsupported_media", f"{filename}: {reason}") from None
        return StoredUpload(path=path, filename=filename, size=sink.size, kind=kind)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
