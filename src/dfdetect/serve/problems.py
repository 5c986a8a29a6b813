"""HTTP errors the service answers with: a status code, a machine-readable code and a message."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from dfdetect.errors import DfdetectError

log = logging.getLogger("dfdetect.serve")
CLIENT_CLOSED = 499  # "client closed request" (nginx's code): the client's doing, not an error


class Problem(DfdetectError):
    """An error answered as ``{"error": {"code": ..., "message": ...}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def problem_body(code: str, message: str) -> dict:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message}}


async def problem_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler turning a :class:`Problem` into its JSON response.

    A refused upload may not have been read to its end: the connection is closed after the
    answer, so the server does not go on reading (and discarding) the rest of the body."""
    assert isinstance(exc, Problem)
    headers = dict(exc.headers or {})
    if request.method == "POST":
        headers["Connection"] = "close"
    return JSONResponse(problem_body(exc.code, exc.message), exc.status, headers=headers)


async def invalid_request_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Query or path parameters that fail validation: 422 in the same error shape."""
    assert isinstance(exc, RequestValidationError)
    where = "; ".join(
        f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return JSONResponse(problem_body("invalid_request", where), 422)


HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors (no such path, wrong method) and other HTTP errors in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = {
        404: f"no such path: {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    return JSONResponse(problem_body(code, message), exc.status_code, headers=exc.headers)


async def client_closed_handler(request: Request, exc: Exception) -> JSONResponse:
    """A client that hung up before its request was read (mid-upload): one log line, and a
    :data:`CLIENT_CLOSED` status that only the metrics see (nobody is left to answer)."""
    assert isinstance(exc, ClientDisconnect)
    peer = f"{request.client.host}:{request.client.port}" if request.client else "a client"
    log.info("%s closed the connection during %s %s", peer, request.method, request.url.path)
    message = "the client closed the connection before its request was read"
    return JSONResponse(problem_body("client_closed_request", message), CLIENT_CLOSED)


def problem_responses(status: int, description: str) -> dict:
    """An OpenAPI ``responses`` entry: ``status`` answers a problem body (for the route docs)."""
    return {
        status: {
            "description": description,
            "content": {"application/json": {"example": problem_body("code", "message")}},
        }
    }
