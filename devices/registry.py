"""Build any device from its config entry: kind + driver → class, plain dict registries."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from devices.callpad import CALLPAD_DRIVERS
from devices.evalpad import EVALPAD_DRIVERS
from devices.ledbus import LED_DRIVERS
from devices.printer import PRINTER_DRIVERS
from devices.worker import DeviceWorker

#: kind → (driver → class).
DRIVERS: dict[str, dict[str, type]] = {
    "printer": PRINTER_DRIVERS,
    "led_bus": LED_DRIVERS,
    "evalpad": EVALPAD_DRIVERS,
    "callpad": CALLPAD_DRIVERS,
}

#: Callbacks each kind accepts (passed through ``build_device(..., **callbacks)``).
CALLBACKS = {
    "printer": ("on_state", "on_printed"),
    "led_bus": ("on_state", "on_sent"),
    "evalpad": ("on_state", "on_rating"),
    "callpad": ("on_state", "on_key"),
}


@dataclasses.dataclass(frozen=True)
class DeviceSettings:
    """One ``[[devices]]`` entry of config.toml, as the drivers need it."""

    name: str
    kind: str
    driver: str = "virtual"
    port: str | None = None
    baudrate: int = 9600
    host: str | None = None
    tcp_port: int = 9100
    usb_vendor: int | None = None
    usb_product: int | None = None
    paper_width_mm: int = 80
    kiosk: str | None = None
    windows: tuple[int, ...] = ()
    addresses: tuple[int, ...] | None = None
    protocol: str = "hall-led-v1"
    heartbeat_s: float = 10.0

    @classmethod
    def coerce(cls, settings_like: Any) -> "DeviceSettings":
        """Accept this class, a mapping, or any object with these attributes (a pydantic model)."""
        if isinstance(settings_like, cls):
            return settings_like
        names = [f.name for f in dataclasses.fields(cls)]
        if isinstance(settings_like, Mapping):
            values = {k: settings_like[k] for k in names if settings_like.get(k) is not None}
        else:
            values = {k: getattr(settings_like, k) for k in names
                      if getattr(settings_like, k, None) is not None}
        for key in ("windows", "addresses"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def _kind_kwargs(s: DeviceSettings) -> dict[str, Any]:
    if s.kind == "printer":
        return {"paper_width_mm": s.paper_width_mm, "kiosk": s.kiosk,
                "heartbeat_s": s.heartbeat_s}
    if s.kind == "led_bus":
        return {"windows": s.windows, "addresses": s.addresses, "protocol": s.protocol,
                "heartbeat_s": s.heartbeat_s}
    return {}


def build_device(settings_like: Any, **callbacks: Any) -> DeviceWorker:
    """Return the (not yet started) device for one config entry; call ``.start()`` on it."""
    s = DeviceSettings.coerce(settings_like)
    try:
        drivers = DRIVERS[s.kind]
    except KeyError:
        raise ValueError(f"device {s.name!r}: kind {s.kind!r} unknown; "
                         f"use one of {sorted(DRIVERS)}") from None
    try:
        cls = drivers[s.driver]
    except KeyError:
        raise ValueError(f"device {s.name!r}: driver {s.driver!r} unknown for kind {s.kind!r}; "
                         f"use one of {sorted(drivers)}") from None
    kwargs = _kind_kwargs(s)
    for field in cls.settings_fields:
        if getattr(s, field) is None:
            raise ValueError(f"device {s.name!r}: driver {s.driver!r} needs {field!r}")
        kwargs[field] = getattr(s, field)
    unknown = set(callbacks) - set(CALLBACKS[s.kind])
    if unknown:
        raise TypeError(f"{s.kind} devices take no callback {sorted(unknown)}")
    return cls(s.name, **kwargs, **callbacks)
