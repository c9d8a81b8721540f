"""The lab's DNS server: A records with per-record TTLs from a JSON zone file, UDP and TCP.

The zone file is re-read whenever its mtime changes, so tests change records while it runs:
  {"delay_ms": 0, "records": {"api.lab.test": {"ips": ["203.0.113.10"], "ttl": 300}}}
A record with "fail": "servfail" answers SERVFAIL; "fail": "drop" never answers. A record with
"rotate": [[IP, ...], [IP, ...], ...] rebinds: it answers the next set every "ttl" seconds (by the
clock, so every query agrees), with the seconds left until the switch as the answer's TTL; its
"ips" is what a server without rotation answers. Unknown names get NXDOMAIN. health.lab.test
always answers 127.0.0.1 at once (no delay): `scripts/lab status` asks it.
Usage: dns_server.py ZONE_FILE PORT [ADDRESS]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer

HEALTH = "health.lab.test"


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone_file: Path) -> None:
        self.zone_file = zone_file
        self._lock = threading.Lock()
        self._mtime = -1.0
        self._zone: dict[str, Any] = {"records": {}}

    def zone(self) -> dict[str, Any]:
        with self._lock:
            try:
                mtime = self.zone_file.stat().st_mtime
            except FileNotFoundError:
                return self._zone
            if mtime != self._mtime:
                try:
                    self._zone = json.loads(self.zone_file.read_text())
                    self._mtime = mtime
                except ValueError:
                    pass  # caught mid-write: keep the last good zone, retry next query
            return self._zone

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord | None:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name == HEALTH:
            if request.q.qtype in (QTYPE.A, QTYPE.ANY):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("127.0.0.1"), ttl=0))
            return reply
        zone = self.zone()
        if zone.get("delay_ms"):
            time.sleep(zone["delay_ms"] / 1000)
        record = zone.get("records", {}).get(name)
        if record is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if record.get("fail") == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if record.get("fail") == "drop":
            return None  # dnslib sends no answer at all
        ips, ttl = answer(record, time.time())
        if request.q.qtype in (QTYPE.A, QTYPE.ANY):
            for ip in ips:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=ttl))
        return reply


def answer(record: dict[str, Any], now: float) -> tuple[list[str], int]:
    """A record's addresses and TTL at `now`: a rotating record's current set and the seconds
    left until it switches, else its "ips" and "ttl"."""
    ttl = int(record["ttl"])
    sets = record.get("rotate")
    if not sets or ttl <= 0:
        return list(record.get("ips", [])), ttl
    period = int(now // ttl)
    return list(sets[period % len(sets)]), max(1, (period + 1) * ttl - int(now))


def main() -> int:
    zone_file, port = Path(sys.argv[1]), int(sys.argv[2])
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    resolver = ZoneResolver(zone_file)
    servers = [
        DNSServer(resolver, port=port, address=address, tcp=tcp, logger=_Quiet())
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    print(f"lab dns on {address}:{port} pid {os.getpid()}", flush=True)
    while all(s.isAlive() for s in servers):
        time.sleep(1)
    return 1


class _Quiet:
    def __getattr__(self, _name: str) -> Any:
        return lambda *args, **kwargs: None


if __name__ == "__main__":
    raise SystemExit(main())
