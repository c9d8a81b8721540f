"""DNS answers built offline (no packets): dnspython's own Answer over a crafted response."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver


def answer(qname: str, chain: list[tuple[str, int, str, str]]) -> dns.resolver.Answer:
    """chain: (owner, ttl, type, value) lines of the answer section, e.g. a CNAME then an A."""
    lines = "\n".join(f"{owner}. {ttl} IN {rtype} {value}" for owner, ttl, rtype, value in chain)
    text = f"id 1\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\n{qname}. IN A\n" \
           f";ANSWER\n{lines}\n"
    response = dns.message.from_text(text)
    assert isinstance(response, dns.message.QueryMessage)
    return dns.resolver.Answer(dns.name.from_text(f"{qname}."), dns.rdatatype.A,
                               dns.rdataclass.IN, response)


class FakeQuerier:
    """Zone: name -> (ips, ttl) or name -> [chain]; a missing name raises NXDOMAIN."""

    def __init__(self, zone: dict[str, tuple[list[str], int] | list[tuple[str, int, str, str]]]
                 ) -> None:
        self.zone = zone
        self.asked: list[tuple[str, float | None]] = []

    def resolve(self, qname: str, rdtype: str = "A", *, lifetime: float | None = None
                ) -> dns.resolver.Answer:
        self.asked.append((qname, lifetime))
        entry = self.zone.get(qname)
        if entry is None:
            raise dns.resolver.NXDOMAIN(qnames=[dns.name.from_text(qname)])  # type: ignore[no-untyped-call]
        if isinstance(entry, tuple):
            ips, ttl = entry
            return answer(qname, [(qname, ttl, "A", ip) for ip in ips])
        return answer(qname, entry)
