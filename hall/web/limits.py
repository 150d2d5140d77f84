"""Kiosk abuse: a rate limit per kiosk token on ticket issue (Flask-Limiter), answered with 429 rate_limited."""
from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter

from hall.models import Role
from hall.web.auth import principal
from hall.web.errors import ApiError

log = logging.getLogger(__name__)
LIMITED_ENDPOINTS = ("api.issue",)


def caller_key() -> str:
    """The bearer token (as a digest: no token in the limiter's storage), else the address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


def _not_a_kiosk() -> bool:
    """Managers at a counter are not limited; kiosks, and callers without a token, are."""
    try:
        who = principal()
    except ApiError:
        return False  # counted; the endpoint answers 401 for the bad credentials
    return who is not None and who.role is not Role.KIOSK


def init_app(app: Flask, server: Any) -> Limiter:
    """A limiter of its own per app, on ``server.rate_limit_storage``; wraps the issue endpoint."""
    limiter = Limiter(caller_key, app=app, storage_uri=server.rate_limit_storage,
                      strategy="fixed-window", headers_enabled=True,
                      # A storage that is down (Redis restarting) must not stop the kiosks.
                      swallow_errors=True, in_memory_fallback_enabled=True)
    limit = limiter.limit(lambda: server.issue_rate_limit, key_func=caller_key,
                          exempt_when=_not_a_kiosk)
    for endpoint in LIMITED_ENDPOINTS:
        app.view_functions[endpoint] = limit(app.view_functions[endpoint])
    app.extensions["hall.limiter"] = limiter
    return limiter
