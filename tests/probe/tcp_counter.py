"""Accepts one TCP connection on PORT and prints the running byte count after every read
(or every 0.2 s), until the peer goes away. Used to watch an old flow live or die."""

from __future__ import annotations

import socket
import sys


def main() -> int:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", int(sys.argv[1])))
    server.listen(1)
    print("ready", flush=True)
    conn, _ = server.accept()
    conn.settimeout(0.2)
    total = 0
    while True:
        try:
            data = conn.recv(4096)
        except TimeoutError:
            data = b"."
        except OSError:
            return 0
        if not data:
            return 0
        total += len(data) if data != b"." else 0
        print(total, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
