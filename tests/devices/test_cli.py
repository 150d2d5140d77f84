"""`python run.py devices …`: list, test-print, light, and clear errors for wrong names."""
from __future__ import annotations

import types

import pytest

from devices import cli
from support import hall_dict, settings_for

DEVICES = [
    {"name": "printer-k1", "kind": "printer", "kiosk": "K1"},
    {"name": "printer-usb", "kind": "printer", "driver": "usb", "usb_vendor": 0x0416,
     "usb_product": 0x5011, "kiosk": "K2"},
    {"name": "printer-tty", "kind": "printer", "driver": "serial", "port": "/dev/ttyNOPE9"},
    {"name": "screens", "kind": "led_bus", "windows": [1, 2, 3, 4]},
    {"name": "callpads", "kind": "callpad", "windows": [1, 2, 3, 4]},
]


@pytest.fixture
def settings(tmp_path):
    return settings_for(tmp_path, [hall_dict(devices=DEVICES)])


@pytest.fixture
def no_hardware(monkeypatch):
    monkeypatch.setattr(cli, "serial_ports", lambda: [("/dev/ttyUSB0", "USB-Serial CH340")])
    monkeypatch.setattr(cli, "usb_printers", lambda: ([(0x0416, 0x5011, "bus 1 address 4")], None))


def test_list_names_the_devices_ports_and_usb_printers(settings, no_hardware, capsys):
    assert cli.main(["list"], settings) == 0
    out = capsys.readouterr().out
    for name in ("printer-k1", "printer-usb", "printer-tty", "screens", "callpads"):
        assert name in out
    assert "kiosk K1" in out and "windows 1–4" in out
    assert "/dev/ttyNOPE9 @9600" in out and "PORT MISSING" in out
    assert "usb 0416:5011" in out and "present" in out
    assert "/dev/ttyUSB0  USB-Serial CH340" in out
    assert "0416:5011  bus 1 address 4" in out
    assert cli.main([], settings) == 0  # list is the default


def test_list_without_libusb_says_so(settings, monkeypatch, capsys):
    import usb.core

    def no_backend(**kwargs):
        raise usb.core.NoBackendError("No backend available")
    monkeypatch.setattr(usb.core, "find", no_backend)
    monkeypatch.setattr(cli, "serial_ports", lambda: [])
    assert cli.main(["list"], settings) == 0
    out = capsys.readouterr().out
    assert "libusb is not installed" in out
    assert "not checked (USB not listed)" in out
    assert "Serial ports:\n  none found" in out


def test_usb_printers_finds_class_7(monkeypatch):
    import usb.core

    class Printer:  # one configuration with one interface of class 7
        bDeviceClass, idVendor, idProduct, bus, address = 0, 0x0416, 0x5011, 1, 4
        interface_class = 7

        def __iter__(self):
            return iter([[types.SimpleNamespace(bInterfaceClass=self.interface_class)]])

    class Mouse(Printer):
        idVendor, interface_class = 0x046D, 3

    def find(find_all, custom_match):
        assert find_all
        return [d for d in (Printer(), Mouse()) if custom_match(d)]
    monkeypatch.setattr(usb.core, "find", find)
    assert cli.usb_printers() == ([(0x0416, 0x5011, "bus 1 address 4")], None)


def test_test_print_on_a_virtual_printer(settings, capsys):
    assert cli.main(["test-print", "printer-k1"], settings) == 0
    assert "T1/printer-k1: test slip sent; the printer is online" in capsys.readouterr().out


def test_test_print_accepts_hall_slash_name(settings, capsys):
    assert cli.main(["test-print", "T1/printer-k1", "--timeout", "5"], settings) == 0


def test_sample_slip(settings):
    slip = cli.sample_slip(settings.halls[0], settings)
    assert (slip.hall, slip.queue, slip.number) == ("测试政务服务中心", "综合受理（测试）", "A000")


def test_light_shows_text_on_a_virtual_bus(settings, capsys):
    assert cli.main(["light", "screens", "3", "请 A001 号"], settings) == 0
    assert "window 3 shows '请 A001 号'" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["test-print", "nope"], "no device 'nope' in the config; the devices are: T1/printer-k1"),
    (["test-print", "X9/printer-k1"], "no device 'X9/printer-k1'"),
    (["test-print", "screens"], "'screens' is a led_bus, not a printer"),
    (["light", "printer-k1", "1", "hi"], "'printer-k1' is a printer, not a led_bus"),
    (["light", "screens", "9", "hi"], "drives windows [1, 2, 3, 4], not window 9"),
    (["light", "nope", "1", "hi"], "no device 'nope'"),
])
def test_wrong_names_exit_2_with_a_message(settings, capsys, argv, message):
    assert cli.main(argv, settings) == 2
    assert message in capsys.readouterr().err


def test_bad_arguments_exit_2(settings, capsys):
    assert cli.main(["light", "screens", "three", "hi"], settings) == 2
    assert cli.main(["frobnicate"], settings) == 2


def test_a_device_name_in_two_halls_needs_the_hall(tmp_path, capsys):
    both = settings_for(tmp_path, [hall_dict("T1", devices=DEVICES[:1]),
                                   hall_dict("T2", devices=DEVICES[:1])])
    assert cli.main(["test-print", "printer-k1"], both) == 2
    assert "write HALL/printer-k1" in capsys.readouterr().err
    assert cli.main(["test-print", "T2/printer-k1"], both) == 0


def test_the_config_file_is_read_when_no_settings_are_given(tmp_path, capsys):
    assert cli.main(["--config", str(tmp_path / "missing.toml"), "list"]) == 2
    assert "missing.toml" in capsys.readouterr().err


def serial_printer_settings(tmp_path, port: str):
    return settings_for(tmp_path, [hall_dict(devices=[
        {"name": "printer-tty", "kind": "printer", "driver": "serial", "port": port,
         "baudrate": 19200}])])


def test_test_print_on_a_serial_printer(tmp_path, pty_printer, capsys):
    sim, path = pty_printer
    assert cli.main(["test-print", "printer-tty"], serial_printer_settings(tmp_path, path)) == 0
    assert "test slip sent; the printer is online" in capsys.readouterr().out
    data = sim.wait_data(lambda d: b"A000" in d)
    assert "这是一张测试票".encode("gb18030") in data


def test_test_print_gives_up_after_the_timeout(tmp_path, capsys):
    settings = serial_printer_settings(tmp_path, "/dev/pts/99999")  # no such pty
    assert cli.main(["test-print", "printer-tty", "--timeout", "0.5"], settings) == 1
    assert "not sent within 0.5 s; the printer is offline" in capsys.readouterr().err
