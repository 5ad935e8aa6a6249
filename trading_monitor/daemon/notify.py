"""systemd's notify protocol (READY=1, WATCHDOG=1, STOPPING=1) without a dependency: one
datagram to $NOTIFY_SOCKET, when it is set (a Type=notify unit); nothing otherwise."""

from __future__ import annotations

import os
import socket


def sd_notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True
