"""systemd's service notification protocol (``sd_notify``), without libsystemd.

With ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``, a unix datagram socket (a path, or
an abstract name written with a leading ``@``); the service sends ``READY=1`` once it
serves, ``WATCHDOG=1`` at least every ``WatchdogSec`` (else systemd restarts it), and
``STOPPING=1`` when it shuts down. See sd_notify(3). Without the variable nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["notify"]

log = logging.getLogger("feeds.daemon")


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``) to systemd; True when it was sent.

    A missing or unreachable socket is logged, never raised: the daemon works without
    systemd.
    """
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket (Linux)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("cannot notify systemd (%s): %s", env.get("NOTIFY_SOCKET"), exc)
        return False
    return True
