"""Optional API-key authentication for the /v1 routes."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from dfdetect.serve.problems import Problem

API_KEY_HEADER = "X-API-Key"


def api_key_dependency(api_key: str | None) -> Callable[[Request], None]:
    """A FastAPI dependency accepting ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``.

    With ``api_key=None`` every request passes. Keys are compared in constant time.
    """

    def check(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get(API_KEY_HEADER)
        if given is None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            given = token if scheme.lower() == "bearer" else None
        if given is None or not hmac.compare_digest(given.encode(), api_key.encode()):
            raise Problem(
                401,
                "unauthorized",
                f"a valid API key is required ({API_KEY_HEADER} header or Bearer token)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
