"""uvicorn's h11 protocol as the service runs it: a deadline on request headers (a client that
opens a connection and sends its headers a line at a time, slowloris, is cut off instead of
holding it forever), and a malformed request answered in the service's error shape."""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from dfdetect.serve.problems import problem_body


class ServiceProtocol(H11Protocol):
    """Closes the connection when a request's line and headers are not complete within
    ``header_timeout_s`` of the connection opening or of the previous response ending (the
    body has its own limit, the upload timeout); answers a request h11 cannot parse with a
    JSON 400 like every other error instead of uvicorn's plain text."""

    def __init__(self, *args, header_timeout_s: float = 10.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(problem_body("bad_request", msg)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        response = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
        for event in (response, h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.logger.info(
                "closed a connection whose headers took over %gs", self.header_timeout_s
            )
            self.transport.close()
