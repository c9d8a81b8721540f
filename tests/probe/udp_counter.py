"""Counts UDP datagrams on PORT until SIGTERM, never replying (a reply would make the flow
ESTABLISHED and let later probes ride the shared base rule). Prints the count on exit."""

from __future__ import annotations

import signal
import socket
import sys


def main() -> int:
    count = 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", int(sys.argv[1])))
    sock.settimeout(0.2)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    while not stopping:
        try:
            sock.recv(256)
            count += 1
        except TimeoutError:
            continue
    print(count, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
