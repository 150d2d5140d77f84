"""Small escpos transports over an opened pyserial port or a TCP socket (open/close/_raw/_read)."""
from __future__ import annotations

import socket
from typing import Any

import serial
from escpos.escpos import Escpos


class NoReply(Exception):
    """The printer did not answer a DLE EOT query in time."""


class PortEscpos(Escpos):
    """An escpos transport over an already opened pyserial port (``devfile`` cannot be a URL)."""

    def __init__(self, port: serial.SerialBase, **kwargs: Any) -> None:
        Escpos.__init__(self, **kwargs)
        self.device = port

    def clear_input(self) -> None:
        self.device.reset_input_buffer()

    def _raw(self, msg: bytes) -> None:
        self.device.write(msg)

    def _read(self) -> bytes:
        return self.device.read(1)

    def close(self) -> None:
        if self._device:
            self._device.close()
        self._device = False


class SocketEscpos(Escpos):
    """An escpos transport over a connected TCP socket (port 9100 printers)."""

    def __init__(self, sock: socket.socket, **kwargs: Any) -> None:
        Escpos.__init__(self, **kwargs)
        self.device = sock

    def clear_input(self) -> None:
        self.device.setblocking(False)
        try:
            while self.device.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            self.device.setblocking(True)

    def _raw(self, msg: bytes) -> None:
        self.device.sendall(msg)

    def _read(self) -> bytes:
        data = self.device.recv(1)
        if not data:
            raise ConnectionResetError("printer closed the connection")
        return data

    def close(self) -> None:
        if self._device:
            try:
                self._device.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._device.close()
        self._device = False
