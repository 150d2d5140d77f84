"""`python run.py devices [list | test-print NAME | light NAME WINDOW TEXT]`: try the hardware."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import socket
import sys
from typing import Any

from devices.ledbus import ScreenContent
from devices.printer import TicketSlip
from devices.registry import build_device

USAGE_ERROR = 2


class CliError(Exception):
    """A wrong name, kind or window: exit code 2 with this message."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python run.py devices",
        description="List the configured devices, the serial ports and USB printers; print a test "
        "slip; show a text on a window screen. Stop the server first when a device is on a serial "
        "port or USB: only one program can hold the port.")
    p.add_argument("--config", default=os.environ.get("HALL_CONFIG", "config.toml"),
                   help="the hall description (default: config.toml, or $HALL_CONFIG)")
    sub = p.add_subparsers(dest="action")
    sub.add_parser("list", help="configured devices, serial ports and USB printers (the default)")
    tp = sub.add_parser("test-print", help="print a sample ticket slip on a printer")
    tp.add_argument("name", help="device name in the config (HALL/NAME if several halls use it)")
    tp.add_argument("--timeout", type=float, default=15.0, help="seconds to wait (default 15)")
    light = sub.add_parser("light", help="show a text on one window's LED screen")
    light.add_argument("name", help="the led_bus device name")
    light.add_argument("window", type=int, help="the window number")
    light.add_argument("text", help="line 1, e.g. '请 A001 号'")
    light.add_argument("--line2", help="line 2 (default: '<window>号窗口')")
    light.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    return p


def main(argv: list[str], settings: Any = None) -> int:
    """Run the command; 0 done, 1 the device did not take it in time, 2 a usage error."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if settings is None:  # run as a command: show the drivers' warnings (port missing…)
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
        from hall.config import ConfigError, load_config
        try:
            settings = load_config(args.config)
        except ConfigError as err:
            print(str(err), file=sys.stderr)
            return USAGE_ERROR
    try:
        if args.action == "test-print":
            return test_print(settings, args.name, args.timeout)
        if args.action == "light":
            return light(settings, args.name, args.window, args.text, args.line2, args.timeout)
        return list_devices(settings)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_ERROR


def find_device(settings: Any, name: str, kind: str | None = None) -> tuple[Any, Any]:
    """(hall settings, device settings) for ``NAME`` or ``HALL/NAME``; CliError otherwise."""
    code, _, bare = name.rpartition("/")
    found = [(h, d) for h in settings.halls for d in h.devices
             if d.name == bare and (not code or h.code == code)]
    if not found:
        known = ", ".join(f"{h.code}/{d.name}" for h in settings.halls for d in h.devices)
        raise CliError(f"no device {name!r} in the config; the devices are: {known or 'none'}")
    if len(found) > 1:
        raise CliError(f"{len(found)} halls have a device {bare!r}; write HALL/{bare}, e.g. "
                       f"{found[0][0].code}/{bare}")
    hall, device = found[0]
    if kind is not None and device.kind != kind:
        raise CliError(f"{name!r} is a {device.kind}, not a {kind}")
    return hall, device


# -- list -------------------------------------------------------------------------------
def serial_ports() -> list[tuple[str, str]]:
    """(device, description) of every serial port of this machine."""
    from serial.tools import list_ports
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    return [(p.device, p.description or "") for p in ports]


def _is_printer(dev: Any) -> bool:
    if dev.bDeviceClass == 7:
        return True
    try:
        return any(intf.bInterfaceClass == 7 for cfg in dev for intf in cfg)
    except Exception:  # noqa: BLE001 - no permission to read the descriptors: not listed
        return False


def usb_printers() -> tuple[list[tuple[int, int, str]], str | None]:
    """([(vendor, product, where), …], None) of USB printers (class 7), or ([], why not)."""
    try:
        import usb.core
    except ImportError:
        return [], "pyusb is not installed, USB printers cannot be listed"
    try:
        found = list(usb.core.find(find_all=True, custom_match=_is_printer))
    except usb.core.NoBackendError:
        return [], ("libusb is not installed, USB printers cannot be listed "
                    "(Debian/Ubuntu: apt-get install libusb-1.0-0)")
    except usb.core.USBError as err:
        return [], f"cannot read the USB devices: {err}"
    return [(d.idVendor, d.idProduct, f"bus {d.bus} address {d.address}") for d in found], None


def check(device: Any, ports: list[str], usb: list[tuple[int, int, str]] | None) -> str:
    """A look from outside that opens nothing the server may hold (the server knows the state)."""
    if device.driver == "virtual":
        return "virtual twin (no hardware)"
    if device.driver == "serial":
        local = device.port.startswith("/dev/")
        if device.port in ports or (local and os.path.exists(device.port)):
            return "port present"
        return "PORT MISSING" if local else "not checked (URL)"
    if device.driver == "network":
        try:
            socket.create_connection((device.host, device.tcp_port), timeout=1.0).close()
        except OSError as err:
            return f"UNREACHABLE ({err.strerror or err})"
        return "reachable"
    if device.driver == "usb":
        if usb is None:
            return "not checked (USB not listed)"
        present = any((v, p) == (device.usb_vendor, device.usb_product) for v, p, _ in usb)
        return "present" if present else "NOT FOUND"
    return "?"


def where(device: Any) -> str:
    if device.driver == "serial":
        return f"{device.port} @{device.baudrate}"
    if device.driver == "network":
        return f"{device.host}:{device.tcp_port}"
    if device.driver == "usb":
        return f"usb {device.usb_vendor:04x}:{device.usb_product:04x}"
    return "-"


def serves(device: Any) -> str:
    if device.kind == "printer":
        return f"kiosk {device.kiosk}" if device.kiosk else "no kiosk"
    windows = list(device.windows)
    if not windows:
        return "windows = addresses"
    return f"windows {windows[0]}–{windows[-1]}" if len(windows) > 3 else f"windows {windows}"


def list_devices(settings: Any) -> int:
    ports = serial_ports()
    usb, usb_problem = usb_printers()
    print("Configured devices:")
    rows = [(h.code, d.name, d.kind, d.driver, where(d), serves(d),
             check(d, [p for p, _ in ports], None if usb_problem else usb))
            for h in settings.halls for d in h.devices]
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for row in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[6])
    else:
        print("  none (add [[halls.devices]] tables to the config)")
    print("Serial ports:")
    for device, description in ports:
        print(f"  {device}  {description}")
    if not ports:
        print("  none found")
    print("USB printers (class 7):")
    if usb_problem:
        print(f"  {usb_problem}")
    for vendor, product, place in usb:
        print(f"  {vendor:04x}:{product:04x}  {place}  (usb_vendor = 0x{vendor:04x}, "
              f"usb_product = 0x{product:04x})")
    if not usb and not usb_problem:
        print("  none found")
    return 0


# -- test-print and light -----------------------------------------------------------------
def sample_slip(hall: Any, settings: Any) -> TicketSlip:
    queue = hall.queues[0]
    base = settings.server.public_url or f"http://{settings.server.host}:{settings.server.port}"
    return TicketSlip(hall=hall.name, queue=f"{queue.name}（测试）",
                      number=f"{queue.prefix}{0:0{queue.number_width}d}", ahead=0, wait_min=0,
                      issued_at=dt.datetime.now(hall.zone), url=f"{base.rstrip('/')}/t/0",
                      notice="这是一张测试票，不能用于办理业务。")


def test_print(settings: Any, name: str, timeout: float = 15.0) -> int:
    hall, device = find_device(settings, name, "printer")
    printer = build_device(device).start()
    try:
        printer.submit(sample_slip(hall, settings))
        printed = printer.wait_idle(timeout)
        state = printer.state.value
    finally:
        printer.stop()
    if printed:
        print(f"{hall.code}/{device.name}: test slip sent; the printer is {state}")
        return 0
    print(f"{hall.code}/{device.name}: the test slip was not sent within {timeout:g} s; the "
          f"printer is {state} (paper, cover, cable, or the server holding the port?)",
          file=sys.stderr)
    return 1


def light(settings: Any, name: str, window: int, text: str, line2: str | None = None,
          timeout: float = 5.0) -> int:
    hall, device = find_device(settings, name, "led_bus")
    if window not in device.windows:
        raise CliError(f"{name!r} drives windows {list(device.windows)}, not window {window}")
    bus = build_device(device).start()
    try:
        bus.call(ScreenContent(window, text, f"{window}号窗口" if line2 is None else line2))
        sent = bus.wait_idle(timeout)
        state = bus.state.value
    finally:
        bus.stop()
    if sent:
        print(f"{hall.code}/{device.name}: window {window} shows {text!r}; the bus is {state}")
        return 0
    print(f"{hall.code}/{device.name}: the frame was not sent within {timeout:g} s; the bus is "
          f"{state}", file=sys.stderr)
    return 1
