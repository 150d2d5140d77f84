"""The one thread per device that owns its port, its queue and its state."""
from __future__ import annotations

import logging
import threading
from typing import Any

from devices.health import DeviceState, StateCallback, StateHolder

log = logging.getLogger(__name__)


class DeviceWorker:
    """Base of every device: ``start()``, ``stop()``, ``state``, ``on_state(name, state)``.

    Subclasses implement ``_step()`` (one unit of work, may block briefly) and put
    jobs in their own queue under ``self._cond``; ``submit``-style methods never block.
    """

    kind = "device"
    initial_state = DeviceState.OFFLINE  # until the port answers; virtual twins start online

    def __init__(self, name: str, *, on_state: StateCallback | None = None) -> None:
        self.name = name
        self.health = StateHolder(name, on_state, self.initial_state)
        self._cond = threading.Condition()
        self._stopping = False
        self._stopped = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> DeviceState:
        return self.health.state

    def start(self) -> "DeviceWorker":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"{self.kind}:{self.name}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._stopped.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close()

    def __enter__(self) -> "DeviceWorker":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` unless stopped or woken; True when stopping."""
        with self._cond:
            if not self._stopping and seconds > 0:
                self._cond.wait(seconds)
            return self._stopping

    def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` (only a stop cuts it short); True when stopping."""
        return self._stopped.wait(seconds) if seconds > 0 else self._stopping

    def _sleep(self, seconds: float) -> bool:
        """A backoff sleep that ``_wake()`` (a device back, a test) cuts short."""
        if seconds > 0:
            self._kick.wait(seconds)
            self._kick.clear()
        return self._stopping

    def _wake(self) -> None:
        self._kick.set()
        with self._cond:
            self._cond.notify_all()

    def _loop(self) -> None:
        while not self._stopping:
            try:
                self._step()
            except Exception:  # noqa: BLE001 - the worker outlives a bug in one step
                log.exception("device %s: step failed", self.name)
                self.health.set(DeviceState.ERROR)
                self._wait(1.0)

    def _step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:
        """Release the port after the thread ended."""
