"""The DNS a container asks and is answered, from coi-tui's NFLOG group, read as the pcap
stream `tcpdump -i nflog:N -w -` writes. Names only are kept, never payloads.

libpcap's nflog device frames each packet as NFLOG TLVs (DLT_NFLOG: a 4-byte header, then
4-byte-aligned type/length/value records, type 9 the packet); dpkt reads the pcap stream and
the IPv4/UDP headers, dnslib the DNS message."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import dpkt
from dnslib import QTYPE, DNSError, DNSRecord

NFULA_PAYLOAD = 9


@dataclass(frozen=True)
class DnsSeen:
    at: float
    client: str  # the container's address
    server: str
    port: int  # the client's port: pairs a query with its trace and its answer
    query: str  # the name asked (lower case, no trailing dot)
    answers: tuple[tuple[str, int], ...] = ()  # (address, ttl) of the A records
    is_answer: bool = False


def nflog_payload(frame: bytes) -> bytes | None:
    offset = 4
    while offset + 4 <= len(frame):
        length, kind = struct.unpack_from("<HH", frame, offset)
        if length < 4:
            return None
        if kind & 0x7FFF == NFULA_PAYLOAD:
            return frame[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return None


def decode(at: float, frame: bytes) -> DnsSeen | None:
    payload = nflog_payload(frame)
    if payload is None:
        return None
    try:
        packet = dpkt.ip.IP(payload)
    except (dpkt.UnpackError, ValueError):
        return None
    udp = packet.data
    if not isinstance(udp, (dpkt.udp.UDP, dpkt.tcp.TCP)):
        return None
    body = bytes(udp.data)
    if isinstance(udp, dpkt.tcp.TCP):
        body = body[2:]  # DNS over TCP: a 2-byte length first
    try:
        message = DNSRecord.parse(body)
    except (DNSError, IndexError, struct.error):
        return None
    if not message.questions:
        return None
    query = str(message.q.qname).rstrip(".").lower()
    source, destination = dpkt.utils.inet_to_str(packet.src), dpkt.utils.inet_to_str(packet.dst)
    if message.header.qr:
        answers = tuple((str(rr.rdata), int(rr.ttl)) for rr in message.rr
                        if rr.rtype == QTYPE.A)
        return DnsSeen(at, destination, source, int(udp.dport), query, answers, True)
    return DnsSeen(at, source, destination, int(udp.sport), query)


def read_stream(stream: IO[bytes]) -> Iterator[DnsSeen]:
    """Until the stream ends; frames that are not DNS are skipped. A stream that ends before
    its pcap header (the reader never started) yields nothing."""
    try:
        reader = dpkt.pcap.Reader(stream)
    except (dpkt.NeedData, ValueError):
        return
    for at, frame in reader:
        seen = decode(float(at), bytes(frame))
        if seen is not None:
            yield seen
