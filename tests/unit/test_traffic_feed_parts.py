"""The feed's pure parts: trace lines as the kernel prints them (captured on the lab), the
deciding rule in words, DNS names from NFLOG frames, the table's text, the history."""

from __future__ import annotations

import io
import json
import socket
import struct
from dataclasses import replace
from pathlib import Path

import dpkt
from dnslib import QTYPE, RR, A, DNSRecord

from coi_tui.eras.firewalld.counters import CounterReading, RuleCounter
from coi_tui.eras.nft.objects import NftCoiRule
from coi_tui.services.traffic.attempts import Attempt, Verdict
from coi_tui.services.traffic.dns_log import decode, read_stream
from coi_tui.services.traffic.history import History, read
from coi_tui.services.traffic.names import NameBook
from coi_tui.services.traffic.rule_hits import DecidingRules, with_deciding
from coi_tui.services.traffic.table import counts_of, elements_script, names_script, table_script
from coi_tui.services.traffic.trace import TraceAssembler, packet_of, parse_line
from coi_tui.services.traffic.why import decide

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traffic"
LAB1 = "10.147.0.181"


def assemble(lines: list[str], mode: str | None = "restricted") -> list[Attempt]:
    assembler = TraceAssembler({LAB1: "coi-lab-1"}.get, lambda _c: mode, "coi_tui_traffic",
                               frozenset({"to_host"}))
    out: list[Attempt] = []
    for i, line in enumerate(lines):
        out += assembler.feed(line, now=i * 0.001)
    out += assembler.flush(now=100.0)
    return out


def test_a_restricted_containers_lab_trace_reads_as_three_decisions() -> None:
    attempts = assemble((FIXTURES / "trace_firewalld_restricted.txt").read_text().splitlines())
    rejected = [a for a in attempts if a.verdict is Verdict.REJECTED]
    assert [(a.destination, a.port, a.protocol, a.why) for a in rejected] == [
        ("192.168.77.2", 80, "tcp", "private range"),
        ("169.254.77.1", None, "icmp", "metadata")]
    assert rejected[0].rule == "ip saddr 10.147.0.181 ip daddr 192.168.0.0/16 reject # handle 5"
    assert rejected[0].where == "ip filter FORWARD"
    reached = {(a.destination, a.port, a.to_host) for a in attempts
               if a.verdict is Verdict.REACHED}
    assert ("203.0.113.10", 80, False) in reached
    assert ("10.147.0.1", 53, True) in reached  # the DNS query went to the host's resolver
    assert all(a.container == "coi-lab-1" for a in attempts)


def test_traces_of_other_sources_or_started_elsewhere_are_ignored() -> None:
    lines = (FIXTURES / "trace_firewalld_restricted.txt").read_text().splitlines()
    nobody: dict[str, str] = {}
    assembler = TraceAssembler(nobody.get, lambda _c: None, "coi_tui_traffic", frozenset())
    assert [a for line in lines for a in assembler.feed(line, 0.0)] == []
    assert list(assembler.flush(100.0)) == []


def test_a_counter_in_the_printed_rule_is_left_out() -> None:
    line = parse_line("trace id 1a ip filter FORWARD rule ip saddr 10.1.1.1 ip daddr "
                      "10.0.0.0/8 counter packets 16 bytes 960 reject # handle 5 "
                      "(verdict drop)")
    assert line is not None and line.kind == "rule"
    assert (line.text, line.handle, line.verdict) == (
        "ip saddr 10.1.1.1 ip daddr 10.0.0.0/8 reject", 5, "drop")
    assert parse_line("not a trace") is None


def test_a_rule_newer_than_the_monitor_is_read_by_its_handle() -> None:
    lines = [
        "trace id 22c1f707 inet coi_tui_traffic attempts packet: iif \"incusbr0\" "
        "ip saddr 10.147.0.181 ip daddr 169.254.77.1 tcp sport 4000 tcp dport 80",
        "trace id 22c1f707 inet coi_tui_traffic attempts unknown rule handle 10 "
        "(verdict continue)",
        "trace id 22c1f707 ip coi_tui_backstop c_10_147_0_181_x unknown rule handle 9 "
        "(verdict drop)"]
    read: list[tuple[str, str, str, int]] = []

    def rule_text(family: str, table: str, chain: str, handle: int) -> str | None:
        read.append((family, table, chain, handle))
        return "ip daddr 169.254.0.0/16 counter packets 3 bytes 180 reject"

    assembler = TraceAssembler({LAB1: "coi-lab-1"}.get, lambda _c: "restricted",
                               "coi_tui_traffic", frozenset(), rule_text)
    [attempt] = [a for i, line in enumerate(lines) for a in assembler.feed(line, i * 0.001)]
    assert (attempt.verdict, attempt.why) == (Verdict.REJECTED, "metadata")
    assert attempt.where == "ip coi_tui_backstop c_10_147_0_181_x"
    assert attempt.rule == "ip daddr 169.254.0.0/16 reject # handle 9"
    assert read == [("ip", "coi_tui_backstop", "c_10_147_0_181_x", 9)]
    gone = TraceAssembler({LAB1: "coi-lab-1"}.get, lambda _c: "restricted",
                          "coi_tui_traffic", frozenset(), lambda *_a: None)
    [attempt] = [a for i, line in enumerate(lines) for a in gone.feed(line, i * 0.001)]
    assert (attempt.verdict, attempt.why) == (Verdict.REJECTED, "a rule since removed")


def test_packet_fields() -> None:
    packet = packet_of('iif "incusbr0" ip saddr 10.147.0.5 ip daddr 1.2.3.4 ip protocol udp '
                       "udp sport 4000 udp dport 443")
    assert packet is not None
    assert (packet.source, packet.destination, packet.protocol, packet.port, packet.sport) == (
        "10.147.0.5", "1.2.3.4", "udp", 443, 4000)


NFT_ERA = {
    # (family, table, chain, rule) -> words; COI 0.13's lines as nft prints them
    ("ip", "coi", "forward", "ip saddr 10.147.0.5 ip daddr 10.0.0.0/8 reject comment "
     '"coi-10.147.0.5"'): "private range",
    ("ip", "coi", "forward", "ip saddr 10.147.0.5 ip daddr 169.254.0.0/16 reject comment "
     '"coi-10.147.0.5"'): "metadata",
    ("ip", "coi", "forward", 'ip saddr 10.147.0.5 reject comment "coi-10.147.0.5"'):
        "not in the allowlist",
    ("ip", "coi", "forward", "ip saddr 10.147.0.5 meta l4proto { tcp, udp } th dport 53 "
     'reject comment "coi-10.147.0.5"'): "DNS refused in allowlist mode",
    ("ip", "coi", "input", "ip saddr 10.147.0.5 meta l4proto { tcp, udp } th dport 53 reject "
     'comment "coi-10.147.0.5"'): "DNS refused in allowlist mode",
    ("ip6", "coi", "forward", 'iifname "vethX" drop comment "coi6-c1"'): "IPv6 dropped",
    ("ip", "coi", "forward", 'iifname "vethX" drop comment "coi-boot-c1"'):
        "blocked while the container starts",
    ("ip", "coi_tui_backstop", "c_x", "ip daddr 192.168.0.0/16 reject"):
        "private range",
}


def test_the_deciding_rule_in_words_in_the_nft_era_and_the_backstop() -> None:
    for (family, table, chain, text), words in NFT_ERA.items():
        decision = decide(family, table, chain, text, "rule", "tcp", 53 if "53" in text else 80,
                          "allowlist", chain == "input")
        assert (decision.verdict, decision.why) == (Verdict.REJECTED, words), text


def test_a_blanket_reject_in_restricted_mode_with_ports_is_a_port_not_allowed() -> None:
    decision = decide("ip", "coi", "forward", 'ip saddr 10.147.0.5 reject comment "coi-x"',
                      "rule", "tcp", 8080, "restricted", False)
    assert decision.why == "port not allowed"


def test_a_drop_in_someone_elses_table_is_dropped_elsewhere() -> None:
    decision = decide("inet", "firewalld", "filter_FWD_public", "reject", "rule", "tcp", 80,
                      "restricted", False)
    assert decision.verdict is Verdict.DROPPED
    assert decision.why == "dropped by inet firewalld filter_FWD_public (rule)"
    policy = decide("ip", "filter", "FORWARD", "", "policy", "tcp", 80, None, False)
    assert policy.verdict is Verdict.DROPPED and "policy" in policy.why
    # iptables rules of other tools in ip filter FORWARD carry no container address
    other = decide("ip", "filter", "FORWARD", "ip daddr 10.0.0.0/8 reject", "rule", "tcp", 80,
                   None, False)
    assert other.verdict is Verdict.DROPPED


def nflog_frame(ip_packet: bytes) -> bytes:
    prefix = b"coi"
    tlvs = struct.pack("<HH", 4 + len(prefix) + 1, 10) + prefix + b"\0"
    tlvs += b"\0" * ((4 - len(tlvs) % 4) % 4)
    tlvs += struct.pack("<HH", 4 + len(ip_packet), 9) + ip_packet
    return struct.pack("!BBH", 2, 0, 4242) + tlvs


def dns_packet(src: str, dst: str, sport: int, dport: int, message: DNSRecord) -> bytes:
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=message.pack())
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst),
                    p=dpkt.ip.IP_PROTO_UDP, data=udp)
    ip.len = len(ip)
    return bytes(ip)


def test_dns_queries_and_answers_from_nflog_frames() -> None:
    query = DNSRecord.question("Api.Example.Test.")
    asked = decode(1.0, nflog_frame(dns_packet(LAB1, "10.147.0.1", 4000, 53, query)))
    assert asked is not None and not asked.is_answer
    assert (asked.client, asked.port, asked.query) == (LAB1, 4000, "api.example.test")
    reply = query.reply()
    reply.add_answer(RR("api.example.test", QTYPE.A, rdata=A("203.0.113.10"), ttl=300))
    answered = decode(2.0, nflog_frame(dns_packet("10.147.0.1", LAB1, 53, 4000, reply)))
    assert answered is not None and answered.is_answer
    assert (answered.client, answered.answers) == (LAB1, (("203.0.113.10", 300),))
    assert decode(3.0, nflog_frame(b"\x45garbage")) is None

    book = NameBook()
    book.learn(answered)
    book.pin(LAB1, {"203.0.113.20": "pinned.example.test"})
    assert book.name(LAB1, "203.0.113.10") == "api.example.test"
    assert book.name(LAB1, "203.0.113.20") == "pinned.example.test"
    assert book.name("10.147.0.9", "203.0.113.10") is None  # names are per container


def test_a_pcap_stream_of_nflog_frames() -> None:
    stream = io.BytesIO()
    writer = dpkt.pcap.Writer(stream, linktype=dpkt.pcap.DLT_NFLOG)
    query = DNSRecord.question("www.lab.test")
    writer.writepkt(nflog_frame(dns_packet(LAB1, "10.147.0.1", 5000, 53, query)), ts=7.0)
    stream.seek(0)
    assert [(s.query, s.port) for s in read_stream(stream)] == [("www.lab.test", 5000)]


def test_the_table_watches_and_never_decides() -> None:
    script = table_script()
    assert "hook forward priority raw" in script and "hook input priority raw" in script
    assert "hook forward priority 500" in script
    for verdict in (" drop", " reject", " accept\n", "queue"):
        assert verdict not in script.replace("policy accept", "")
    assert "limit rate" in script and "meta nftrace set 1" in script
    names = names_script(4242)
    assert "log group 4242" in names and "limit rate" in names and "@sources" in names
    assert elements_script(["10.0.0.1"], ["10.0.0.1", "10.0.0.2"]).count("add element") == 3
    assert "delete element" in elements_script(["10.0.0.1"], [])
    assert elements_script(["10.0.0.1"], ["10.0.0.1"]) == ""


def test_counts_from_the_tables_json() -> None:
    document = {"nftables": [
        {"counter": {"name": "seen", "packets": 12}},
        {"counter": {"name": "traced", "packets": 10}},
        {"set": {"name": "watched", "elem": [
            {"elem": {"val": LAB1, "counter": {"packets": 6, "bytes": 360}}}]}},
        {"set": {"name": "passed", "elem": [
            {"elem": {"val": LAB1, "counter": {"packets": 1, "bytes": 60}}}]}}]}
    counts = counts_of(json.dumps(document))
    assert (counts.seen, counts.traced, counts.blocked(LAB1)) == (12, 10, 5)
    assert counts.blocked("10.9.9.9") == 0


def attempt(at: float, name: str = "coi-lab-1") -> Attempt:
    return Attempt(at=at, container=name, source=LAB1, protocol="tcp",
                   destination="192.168.77.2", port=80, verdict=Verdict.REJECTED,
                   why="private range", rule="r # handle 5", where="ip filter FORWARD")


def test_history_is_bounded_json_lines_with_a_schema(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    now = [1050.0]
    history = History(path, keep=5, max_age=100.0, clock=lambda: now[0])
    history.add(attempt(float(t)) for t in range(1000, 1012))  # past 2 x keep: cut back
    kept = list(read(path))
    assert [a.at for a in kept] == [1007.0, 1008.0, 1009.0, 1010.0, 1011.0]
    assert all(json.loads(line)["schema"] == 1 for line in path.read_text().splitlines())
    assert kept[0] == attempt(1007.0)
    path.write_text(path.read_text() + '{"schema": 99}\nnot json\n')
    assert len(list(read(path))) == 5
    now[0] = 1200.0  # all older than max_age
    history.trim()
    assert list(read(path)) == []


def test_the_feed_counts_what_each_nft_rule_decided_where_the_kernel_keeps_none() -> None:
    rule = NftCoiRule("ip", "coi", "forward", ("ip", "saddr", LAB1, "reject"), "coi-x",
                      handle=12)
    other = NftCoiRule("ip", "coi", "forward", ("ip", "saddr", LAB1, "accept"), "coi-x",
                       handle=13)
    decided = [replace(attempt(float(t)), rule=f"ip saddr {LAB1} reject # handle 12",
                       where="ip coi forward") for t in range(3)]
    deciding = DecidingRules()
    deciding.add([*decided, replace(decided[0], verdict=Verdict.REACHED)])
    counts = deciding.counts([rule, other]).counts
    assert counts[rule].packets == 3 and other not in counts
    kernel = CounterReading({other: RuleCounter(13, 7, 420)})
    both = with_deciding(lambda _rules: kernel, deciding)([rule, other])
    assert (both.counts[rule].packets, both.counts[other].packets) == (3, 7)
