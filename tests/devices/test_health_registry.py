"""Backoff, device states, the reconnecting serial link, the real-port guard and the registry."""
from __future__ import annotations

import pytest
import serial

from devices.callpad import VirtualCallPad
from devices.evalpad import SerialEvalPad, VirtualEvalPad
from devices.health import (ATTENTION_STATES, BLOCKED_STATES, OK_STATES, Backoff, DeviceState,
                            SerialLink, StateHolder)
from devices.ledbus import SerialLedBus, VirtualLedBus
from devices.printer import NetworkPrinter, SerialPrinter, UsbPrinter, VirtualPrinter
from devices.registry import DeviceSettings, build_device


def test_backoff_doubles_up_to_the_cap_and_resets():
    backoff = Backoff(1, 10)
    assert [backoff.next() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert backoff.next() == 1


def test_state_sets():
    assert OK_STATES == {DeviceState.ONLINE, DeviceState.PAPER_NEAR_END}
    assert DeviceState.PAPER_OUT in BLOCKED_STATES & ATTENTION_STATES
    assert DeviceState.OFFLINE in BLOCKED_STATES and DeviceState.OFFLINE not in ATTENTION_STATES


def test_serial_link_goes_offline_retries_and_comes_back(state_log):
    attempts, ports = [], []

    def opener(url, **kwargs):
        attempts.append(url)
        if len(attempts) in (1, 2, 4):
            raise serial.SerialException("no such adapter")
        ports.append(serial.serial_for_url("loop://", **kwargs))
        return ports[-1]

    link = SerialLink("/dev/ttyUSB0", holder=StateHolder("led", state_log), opener=opener,
                      backoff=Backoff(1, 8))
    assert link.write(b"x") is False and link.write(b"x") is False
    assert [link.retry_delay(), link.retry_delay()] == [1, 2]
    assert link.write(b"hello") is True  # third attempt opens; the backoff starts over
    assert link.retry_delay() == 1 and link.read(5) == b"hello"
    ports[-1].close()  # the adapter disappears under us
    assert link.read() is None and link.port is None
    assert link.write(b"again") is False  # reopen fails once more
    assert link.write(b"again") is True
    assert state_log.states == [DeviceState.ONLINE, DeviceState.OFFLINE, DeviceState.ONLINE]
    link.close()


def test_opening_a_real_serial_port_is_refused(no_real_serial_ports):
    with pytest.raises(AssertionError, match="real serial port"):
        serial.serial_for_url("/dev/ttyS0", do_not_open=False)
    with pytest.raises(AssertionError, match="real serial port"):
        serial.Serial("/dev/ttyUSB0")
    assert no_real_serial_ports == ["/dev/ttyS0", "/dev/ttyUSB0"]
    no_real_serial_ports.clear()  # refused as it should be: do not fail this test


@pytest.mark.parametrize("settings, cls", [
    ({"name": "p", "kind": "printer"}, VirtualPrinter),
    ({"name": "p", "kind": "printer", "driver": "serial", "port": "loop://"}, SerialPrinter),
    ({"name": "p", "kind": "printer", "driver": "network", "host": "10.0.0.9"}, NetworkPrinter),
    ({"name": "p", "kind": "printer", "driver": "usb", "usb_vendor": 0x0416,
      "usb_product": 0x5011}, UsbPrinter),
    ({"name": "b", "kind": "led_bus", "windows": [1, 2]}, VirtualLedBus),
    ({"name": "b", "kind": "led_bus", "driver": "serial", "port": "loop://",
      "windows": [1, 2], "addresses": [11, 12]}, SerialLedBus),
    ({"name": "e", "kind": "evalpad"}, VirtualEvalPad),
    ({"name": "e", "kind": "evalpad", "driver": "serial", "port": "loop://"}, SerialEvalPad),
    ({"name": "c", "kind": "callpad"}, VirtualCallPad),
])
def test_build_device_for_every_kind(settings, cls):
    device = build_device(settings)
    assert type(device) is cls and device.name == settings["name"]


def test_build_device_takes_objects_and_callbacks_and_names_mistakes():
    class FromLoader:  # what a pydantic model looks like to the registry
        name, kind, driver, port, baudrate = "bus", "led_bus", "serial", "loop://", 19200
        windows, paper_width_mm, heartbeat_s = [3, 4], 80, 5.0

    bus = build_device(FromLoader(), on_state=print)
    assert bus.address_of == {3: 3, 4: 4} and bus.link.baudrate == 19200
    assert bus.heartbeat_s == 5.0 and bus.health.on_state is print
    printer = build_device(DeviceSettings("k", "printer", paper_width_mm=58, kiosk="K1"))
    assert printer.paper_width_mm == 58 and printer.kiosk == "K1"
    with pytest.raises(ValueError, match="needs 'port'"):
        build_device({"name": "x", "kind": "callpad", "driver": "serial"})
    with pytest.raises(ValueError, match="kind 'fax'"):
        build_device({"name": "x", "kind": "fax"})
    with pytest.raises(ValueError, match="driver 'usb' unknown"):
        build_device({"name": "x", "kind": "led_bus", "driver": "usb"})
    with pytest.raises(TypeError, match="on_key"):
        build_device({"name": "x", "kind": "printer"}, on_key=print)
    with pytest.raises(ValueError, match="58 or 80"):
        build_device({"name": "x", "kind": "printer", "paper_width_mm": 76})
