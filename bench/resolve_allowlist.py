"""Resolve 50 allowlist domains against a DNS server that answers after 50 ms: coi-tui's
concurrent resolution vs COI's way (one domain after the other), side by side in one run.

Run with the repo's venv:  .venv/bin/python bench/resolve_allowlist.py [N] [DELAY_MS]
Starts its own copy of the lab's DNS server on 127.0.0.1 (a free port), never another host.
Target (docs/design.md §7): concurrent <= 1/5 of sequential.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coi_tui.services.resolve import make_resolver, resolve_allowlist

SERVER = Path(__file__).resolve().parents[1] / "scripts" / "lab.d" / "dns_server.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    delay = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    domains = [f"d{i}.bench.test" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        zone = Path(tmp) / "zone.json"
        zone.write_text(json.dumps({"delay_ms": delay, "records": {
            d: {"ips": [f"203.0.113.{10 + i % 2 * 10}"], "ttl": 300} for i, d in enumerate(domains)
        }}))
        port = free_port()
        server = subprocess.Popen([sys.executable, str(SERVER), str(zone), str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            resolver = make_resolver(f"127.0.0.1:{port}")
            for _ in range(100):  # until it answers
                if not resolve_allowlist(["health.lab.test"], resolver=resolver).failed:
                    break
                time.sleep(0.05)
            start = time.perf_counter()
            for domain in domains:  # COI's way: one after the other
                resolve_allowlist([domain], resolver=resolver)
            sequential = time.perf_counter() - start
            start = time.perf_counter()
            result = resolve_allowlist(domains, resolver=resolver)
            concurrent = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(10)
    assert not result.failed, result.failed
    ratio = concurrent / sequential
    print(f"{n} domains, {delay} ms per answer: one by one {sequential:.2f} s, "
          f"concurrently {concurrent:.2f} s: {ratio:.3f} of the time "
          f"({sequential / concurrent:.1f}x faster; target <= 0.2)")
    return 0 if ratio <= 0.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
