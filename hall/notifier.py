"""SMS senders of rating invitations (短信邀评): a JSON-lines outbox file, or an HTTP gateway webhook."""
from __future__ import annotations

import json
import logging
import pathlib
import threading
import time
from typing import Any, Protocol

from hall.privacy import mask_phone

log = logging.getLogger(__name__)


class SendError(Exception):
    """The message was not handed over; the invitation stays queued for the next run."""


class Notifier(Protocol):
    def send(self, phone: str, text: str, meta: dict[str, Any]) -> None: ...


class FileNotifier:
    """Appends one JSON line per message to a file (default var/sms-outbox.jsonl).

    For halls without an SMS gateway yet, and for tests: the line holds the masked phone
    only, so the outbox never becomes a list of visitors' numbers.
    """

    def __init__(self, path: str | pathlib.Path) -> None:
        self.path = pathlib.Path(path)
        self._lock = threading.Lock()

    def send(self, phone: str, text: str, meta: dict[str, Any]) -> None:
        line = json.dumps({"to": mask_phone(phone), "text": text, **meta}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        log.info("rating invitation to %s written to %s", mask_phone(phone), self.path)


class WebhookNotifier:
    """POSTs ``{"phone", "text", ...meta}`` as JSON to an SMS gateway, retried with backoff.

    Runs only in the scheduled job, never in a request, so a slow gateway delays nobody.
    """

    def __init__(self, url: str, timeout_s: float = 5.0, attempts: int = 3,
                 backoff_s: float = 1.0, session: Any = None) -> None:
        import requests  # only a hall with a gateway needs it
        self.url, self.timeout_s, self.attempts, self.backoff_s = url, timeout_s, attempts, backoff_s
        self.http = session or requests.Session()
        self._errors = (requests.RequestException,)

    def send(self, phone: str, text: str, meta: dict[str, Any]) -> None:
        last = "no attempt"
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.http.post(self.url, json={"phone": phone, "text": text, **meta},
                                          timeout=self.timeout_s)
                if response.status_code < 300:
                    log.info("rating invitation to %s sent (attempt %d)", mask_phone(phone), attempt)
                    return
                last = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    break  # the gateway refuses this message: retrying will not help
            except self._errors as err:
                last = type(err).__name__
            if attempt < self.attempts:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise SendError(f"SMS gateway did not take the message to {mask_phone(phone)}: {last}")


def notifier_for(rating_settings: Any, var_dir: pathlib.Path) -> Notifier:
    """The hall's sender: its gateway when ``invite_webhook_url`` is set, else the outbox file."""
    if rating_settings.invite_webhook_url:
        return WebhookNotifier(rating_settings.invite_webhook_url)
    return FileNotifier(var_dir / "sms-outbox.jsonl")
