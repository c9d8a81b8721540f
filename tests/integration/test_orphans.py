"""`coi-tui orphans` against the real lab: every orphan made for real, found with its reason and
nothing else; the rules of stopped, frozen and other-project containers and the lab's own links
are not orphans; `--clean --yes` removes exactly what was listed (firewalld, /sys/class/net,
nft, files compared before/after); an item whose owner came back between review and clean is
skipped and reported.

Only throwaway containers, addresses 10.147.0.90-99 and links named vethcoitest*; every test
removes what it made, whatever happens. HOME is a tmp dir: the real ~/.coi is never written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, JobFinished, StepDone
from coi_tui.services.orphan_clean import clean_job, default_sources, scan
from coi_tui.services.orphans import OrphanKind
from tests import lab_support as lab
from tests.integration.conftest import PROJECT

pytestmark = pytest.mark.lab

DEAD_IP = "10.147.0.99"
BACK_IP = "10.147.0.98"
FROZEN_IP = "10.147.0.92"
LIVE_IP = "10.147.0.95"
PAIR = ("vethcoitestA", "vethcoitestB")
ZONED = ("vethcoitestZ", "vethcoitestY")
ZONE = "block"
PREFIX = f"NFT_COI[{DEAD_IP}]: "
CACHE_BYTES = (b'{\n  "domains": {\n    "api.lab.test": [\n      "203.0.113.10"\n    ]\n  },\n'
               b'  "last_update": "2026-03-11T12:00:00Z"\n}\n')


def rule_for(ip: str) -> list[str]:
    return ["ipv4", "filter", "FORWARD", "10", "-s", ip, "-d", "192.168.77.0/24", "-j", "REJECT"]


def coi_tui(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120, input=stdin,
                          env={**os.environ, "HOME": str(home)})


def listing(home: Path) -> dict[str, Any]:
    result = coi_tui(home, "orphans", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def keys(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["kind"], r["id"]) for r in rows}


def mine(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows naming what these tests make (another engineer's tests share the host)."""
    marks = ("10.147.0.9", "vethcoitest", "coi-orph")
    return [r for r in rows if any(m in r["id"] + r["detail"] for m in marks)]


# ------------------------------------------------------------------ making orphans for real
@contextmanager
def direct_rule(ip: str) -> Iterator[list[str]]:
    lab.firewall_cmd("--direct", "--add-rule", *rule_for(ip))
    try:
        yield rule_for(ip)
    finally:
        lab.run("firewall-cmd", "--direct", "--remove-rule", *rule_for(ip), check=False)


@contextmanager
def veth_pair(a: str, b: str) -> Iterator[None]:
    lab.run("ip", "link", "add", a, "type", "veth", "peer", "name", b)
    try:
        yield
    finally:
        lab.run("ip", "link", "delete", a, check=False)


@contextmanager
def dangling_binding(a: str, b: str, zone: str) -> Iterator[None]:
    """A zone binding of a veth that is then deleted (firewalld keeps the binding)."""
    lab.run("ip", "link", "add", a, "type", "veth", "peer", "name", b)
    try:
        lab.firewall_cmd(f"--zone={zone}", f"--add-interface={a}")
    finally:
        lab.run("ip", "link", "delete", a)
    try:
        yield
    finally:
        lab.run("firewall-cmd", f"--zone={zone}", f"--remove-interface={a}", check=False)


def nft_handles(prefix: str) -> list[int]:
    out = lab.run("nft", "-j", "list", "chain", "ip", "filter", "FORWARD", check=False).stdout
    handles = []
    for item in json.loads(out or '{"nftables": []}')["nftables"]:
        rule = item.get("rule")
        if rule and any(isinstance(e, dict) and (e.get("log") or {}).get("prefix") == prefix
                        for e in rule["expr"]):
            handles.append(int(rule["handle"]))
    return handles


@contextmanager
def monitor_rule(ip: str, prefix: str) -> Iterator[int]:
    """COI 0.8's LOG rule in `ip filter FORWARD`; the table and chain are made only if
    missing, and only what was made is deleted."""
    made_table = lab.run("nft", "list", "table", "ip", "filter", check=False).returncode != 0
    if made_table:
        lab.run("nft", "add", "table", "ip", "filter")
    made_chain = made_table or lab.run("nft", "list", "chain", "ip", "filter", "FORWARD",
                                       check=False).returncode != 0
    if made_chain:
        lab.run("nft", "add", "chain", "ip", "filter", "FORWARD",
                "{ type filter hook forward priority 0 ; }")
    lab.run("nft", "add", "rule", "ip", "filter", "FORWARD", "ip", "saddr", ip, "limit", "rate",
            "100/second", "log", "prefix", f'"{prefix}"', "counter")
    (handle,) = nft_handles(prefix)
    try:
        yield handle
    finally:
        for h in nft_handles(prefix):
            lab.run("nft", "delete", "rule", "ip", "filter", "FORWARD", "handle", str(h),
                    check=False)
        if made_table:
            lab.run("nft", "delete", "table", "ip", "filter", check=False)
        elif made_chain:
            lab.run("nft", "delete", "chain", "ip", "filter", "FORWARD", check=False)


def write_cache(home: Path, name: str, data: bytes = CACHE_BYTES) -> Path:
    path = home / ".coi" / "network-cache" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_session(home: Path, name: str) -> None:
    meta = home / ".coi" / "sessions-claude" / f"session-{name}" / "metadata.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"session_id": f"session-{name}", "container_name": name,
                                "persistent": False, "workspace": "/tmp/ws"}))


@contextmanager
def launched_dhcp(name: str, project: str = "default") -> Iterator[str]:
    lab.incus("launch", lab.IMAGE, name, "--project", project, "-q")
    try:
        yield lab.wait_for_ipv4(name, project=project)
    finally:
        lab.run("incus", "delete", "--force", name, "--project", project, check=False)


# ------------------------------------------------------------------ what must stay untouched
def shared_host_view(lines: list[str], ours: set[str]) -> list[str]:
    """Another engineer's tests change rules on this host meanwhile (coi-lab-1..3, pinned
    containers): compare the rules and nft lines without a host address, and those of the
    addresses these tests use."""
    def kept(line: str) -> bool:
        hosts = {t.removesuffix("/32") for t in line.replace(",", " ").split()
                 if t.count(".") == 3 and t.startswith("10.147.0.")}
        return not hosts or bool(hosts & ours)
    return [line for line in lines if kept(line)]


def state(home: Path, ours: set[str]) -> dict[str, object]:
    """Everything that must be byte-for-byte unchanged except the cleaned items."""
    rules = sorted(shared_host_view(lab.direct_rules(), ours))
    nft = lab.run("nft", "-a", "list", "chain", "ip", "filter", "FORWARD", check=False).stdout
    zones = DBusFirewall().zone_bindings()
    files = {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*"))
             if p.is_file() and "logs" not in p.parts}
    return {
        "rules": rules,
        "links": sorted(os.listdir("/sys/class/net")),
        "zones": zones,
        "nft": shared_host_view(nft.splitlines(), ours),
        "files": files,
    }


def test_all_five_orphans_found_with_reasons_nothing_else_and_clean_removes_exactly_them(
        tmp_path: Path, second_project: str) -> None:
    lab.require_lab()
    home = tmp_path / "home"
    write_cache(home, "coi-lab-1")  # a live instance's cache: never an orphan
    before_any = listing(home)
    assert mine(before_any["orphans"]) == []
    with ExitStack() as stack:
        # not orphans: a stopped, a frozen, an other-project and a live container's rules
        stopped_ip = stack.enter_context(launched_dhcp("coi-orph-stopped"))
        stack.enter_context(lab.launched("coi-orph-frozen", FROZEN_IP))
        stack.enter_context(lab.launched("coi-orph-live", LIVE_IP))
        other_ip = lab.wait_for_ipv4(second_project, project=PROJECT)
        for ip in (stopped_ip, FROZEN_IP, LIVE_IP, other_ip):
            stack.enter_context(direct_rule(ip))
        for name in ("coi-orph-frozen", "coi-orph-live", second_project):
            write_session(home, name)  # COI ran them: their rules are no inherited ones
        lab.incus("stop", "--force", "coi-orph-stopped")
        lab.incus("pause", "coi-orph-frozen")
        stack.callback(lab.run, "incus", "start", "coi-orph-frozen", check=False)
        # the five orphans
        stack.enter_context(direct_rule(DEAD_IP))
        stack.enter_context(veth_pair(*PAIR))
        stack.enter_context(dangling_binding(*ZONED, ZONE))
        handle = stack.enter_context(monitor_rule(DEAD_IP, PREFIX))
        with launched_dhcp("coi-orph-gone"):
            cache = write_cache(home, "coi-orph-gone")
            # its cache is no orphan while it lives
            assert ("cache-file", "coi-orph-gone") not in keys(listing(home)["orphans"])
        expected = {
            ("rule", " ".join(rule_for(DEAD_IP))),
            ("veth", f"{PAIR[0]}<->{PAIR[1]}"),
            ("zone-binding", f"{ZONE}/{ZONED[0]}"),
            ("nft-monitor", f"handle {handle}"),
            ("cache-file", "coi-orph-gone"),
        }

        found = listing(home)
        assert keys(found["orphans"]) - keys(before_any["orphans"]) == expected
        assert keys(mine(found["orphans"])) == expected
        assert found["inherited"] == [] and found["errors"] == {}
        reasons = {(r["kind"], r["id"]): r["reason"] for r in found["orphans"]}
        assert reasons[("rule", " ".join(rule_for(DEAD_IP)))].startswith(
            f"-s {DEAD_IP} belongs to no instance (")
        assert "Frozen" in reasons[("rule", " ".join(rule_for(DEAD_IP)))]
        assert "Stopped" in reasons[("rule", " ".join(rule_for(DEAD_IP)))]
        assert "no master on either end" in reasons[("veth", f"{PAIR[0]}<->{PAIR[1]}")]
        assert reasons[("zone-binding", f"{ZONE}/{ZONED[0]}")] == (
            f"zone {ZONE} binds {ZONED[0]}, but no interface of that name exists on the host")
        assert reasons[("nft-monitor", f"handle {handle}")].startswith(
            f"LOG rule for {DEAD_IP}, which belongs to no instance")
        assert reasons[("cache-file", "coi-orph-gone")] == (
            "IP cache of coi-orph-gone, which is no instance in any project")
        skipped = {(s["kind"], s["id"]): s["reason"] for s in found["skipped"]}
        for link in ("lab-inet", "lab-lan", "lab-meta"):
            assert "not an Incus host veth" in skipped[("veth", link)]
        assert not [k for k in skipped if "vethcoitest" in k[1]]

        text = coi_tui(home, "orphans")
        assert text.returncode == 0, text.stderr
        for heading in ("Orphaned firewall rules (1):", "Orphaned veth interfaces (1):",
                        "Orphaned firewalld zone bindings (1):",
                        "Orphaned nft monitoring rules (1):", "Orphaned IP-cache files (1):"):
            assert heading in text.stdout
        assert "[Dry run] No changes made." in text.stdout
        assert "      why: -s 10.147.0.99 belongs to no instance" in text.stdout

        # the answer to the question is N: nothing changes
        ours = {DEAD_IP, FROZEN_IP, LIVE_IP, stopped_ip, other_ip}
        before = state(home, ours)
        no = coi_tui(home, "orphans", "--clean", stdin="n\n")
        assert no.returncode == 0 and "Cancelled." in no.stdout
        assert state(home, ours) == before

        assert keys(before_any["orphans"]) == set(), "the host had orphans of its own"
        clean = coi_tui(home, "orphans", "--clean", "--yes")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "✓ Cleaned 5 item(s)" in clean.stdout
        after = state(home, ours)
        assert after["rules"] == [r for r in before["rules"]  # type: ignore[attr-defined]
                                  if r != " ".join(rule_for(DEAD_IP))]
        assert after["links"] == [n for n in before["links"]  # type: ignore[attr-defined]
                                  if n not in PAIR]
        zones = dict(before["zones"])  # type: ignore[call-overload]
        zones[ZONE] = tuple(i for i in zones[ZONE] if i != ZONED[0])
        assert after["zones"] == {z: i for z, i in zones.items() if i}
        # both the LOG rule and the removed direct rule (iptables-nft shows it) are gone
        assert after["nft"] == [line for line in before["nft"]  # type: ignore[attr-defined]
                                if DEAD_IP not in line]
        assert after["files"] == {k: v for k, v in before["files"].items()  # type: ignore
                                  if k != str(cache.relative_to(home))}
        assert not cache.exists() and not Path("/sys/class/net", PAIR[0]).exists()
        audit = AuditLog(home / ".coi" / "logs" / "coi-tui-audit.jsonl").read()
        assert len(audit) == 5 and all(line["ok"] for line in audit)
        assert {line["kind"] for line in audit} == {"orphans"}

        again = listing(home)
        assert again["orphans"] == []


def test_an_owner_back_between_review_and_clean_makes_its_items_skipped(tmp_path: Path) -> None:
    lab.require_lab()
    home = tmp_path / "home"
    sources = default_sources(home)
    with ExitStack() as stack:
        stack.enter_context(direct_rule(BACK_IP))
        cache = write_cache(home, "coi-orph-back")
        stack.enter_context(veth_pair(*PAIR))
        _snapshot, report = scan(sources)  # firewalld through its own handle
        reviewed = [o for o in report.orphans if o.owner in (BACK_IP, "coi-orph-back")
                    or (o.kind is OrphanKind.VETH and PAIR[0] in o.id)]
        assert len(reviewed) == 3
        # the owner comes back with that address and that name
        stack.enter_context(lab.launched("coi-orph-back", BACK_IP))

        events: list[EngineEvent] = []
        engine = FirewallEngine(DBusFirewall, events.append,
                                AuditLog(tmp_path / "audit.jsonl")).start()
        try:
            engine.submit(clean_job(reviewed, sources))
            assert engine.wait_idle(60)
        finally:
            engine.stop()
        steps = {str(e.step): e.detail for e in events if isinstance(e, StepDone)}
        assert steps == {
            f"rule {' '.join(rule_for(BACK_IP))}":
                f"skipped: {BACK_IP} belongs to coi-orph-back (default, Running) again",
            "cache-file coi-orph-back": "skipped: instance coi-orph-back exists again",
            f"delete veth pair {PAIR[0]} <-> {PAIR[1]}": "deleted (both ends)",
        }
        (finished,) = [e for e in events if isinstance(e, JobFinished)]
        assert finished.ok, finished
        assert " ".join(rule_for(BACK_IP)) in lab.direct_rules()
        assert cache.read_bytes() == CACHE_BYTES
        assert not Path("/sys/class/net", PAIR[0]).exists()
        audit = AuditLog(tmp_path / "audit.jsonl").read()
        assert [line["detail"].split(":")[0] for line in audit] == [
            "skipped", "deleted (both ends)", "skipped"]


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    yield
    for name in (PAIR[0], ZONED[0]):
        with suppress(subprocess.CalledProcessError):
            lab.run("ip", "link", "delete", name, check=False)
