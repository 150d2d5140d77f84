"""Kiosk abuse: a rate limit per kiosk token on ticket issue and the public booking writes,
answered with 429 rate_limited and Retry-After.

Built on ``limits`` (fixed windows, in memory or in Redis: ``server.rate_limit_storage``), called
directly from a small decorator: the check is one counter increment on the hot path of every
ticket. Managers and admins at a counter are not limited; kiosks and callers without a token are.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from limits import parse, storage, strategies

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


class QuietMemoryStorage(storage.MemoryStorage):
    """limits' in-memory storage without its expiry timer: the library starts a new 10 ms
    ``threading.Timer`` whenever the last one has ended, which under a steady stream of tickets is
    a thread started every few requests (8 % of an issue's CPU in a cProfile of the issue path).
    A counter still expires when it is read (``get``); keys nobody reads again are dropped here,
    inline, at most once every ``SWEEP_S`` seconds."""

    SWEEP_S = 60.0

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self._swept = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the timer (name-mangled private)
        now = time.monotonic()
        if now - self._swept >= self.SWEEP_S:
            self._swept = now
            self._MemoryStorage__expire_events()


def _storage(uri: str) -> storage.Storage:
    if uri.split(":", 1)[0] == "memory":
        return QuietMemoryStorage(uri)
    return storage.storage_from_string(uri)


class KioskLimit:
    """``server.issue_rate_limit`` per caller and endpoint, in ``server.rate_limit_storage``."""

    def __init__(self, server: Any) -> None:
        self.item = parse(server.issue_rate_limit)
        self.limiter = strategies.FixedWindowRateLimiter(_storage(server.rate_limit_storage))
        # A storage that is down (Redis restarting) must not stop the kiosks: count in memory meanwhile.
        self.fallback = strategies.FixedWindowRateLimiter(QuietMemoryStorage())

    def check(self, scope: str) -> None:
        """Count this request; 429 with Retry-After when the caller is over the limit."""
        if _not_a_kiosk():
            return
        key = caller_key()
        limiter = self.limiter
        try:
            allowed = limiter.hit(self.item, scope, key)
        except Exception as err:  # noqa: BLE001 - any storage failure: fall back, never refuse a ticket
            log.warning("rate limit storage unavailable (%s); counting in memory", err)
            limiter = self.fallback
            allowed = limiter.hit(self.item, scope, key)
        if allowed:
            return
        try:
            reset = limiter.get_window_stats(self.item, scope, key).reset_time
        except Exception:  # noqa: BLE001
            reset = time.time() + self.item.get_expiry()
        retry = max(1, math.ceil(reset - time.time()))
        raise ApiError(429, "rate_limited", "Too many requests from this device in a short time; wait "
                       f"a moment and try again (limit: {self.item}).",
                       headers={"Retry-After": str(retry)})

    def wrap(self, app: Flask, endpoints: Iterable[str]) -> None:
        """Check the limit before each of ``endpoints`` (each endpoint counts on its own)."""
        for endpoint in endpoints:
            app.view_functions[endpoint] = self._limited(endpoint, app.view_functions[endpoint])

    def _limited(self, scope: str, view: Callable) -> Callable:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            self.check(scope)
            return view(*args, **kwargs)
        return limited


def init_app(app: Flask, server: Any) -> KioskLimit:
    """The app's own limit (each app counts on its own); wraps the issue endpoint."""
    limit = KioskLimit(server)
    limit.wrap(app, LIMITED_ENDPOINTS)
    app.extensions["hall.limiter"] = limit
    return limit
