"""coi-tui's own nft table for the feed, `inet coi_tui_traffic`: it watches, it never decides.

Its base chains run on the same hooks as COI's, before (priority raw) and after (500) every
filter. On a hook, base chains of all tables run in priority order and `accept` ends only its
own chain, so these see every new attempt of a watched address without changing any verdict:
- `attempts` (forward) counts each new attempt per source (set element counters), and with
  `to_host` (input) marks a rate-limited sample (per source, then overall) with `meta nftrace`,
  so the kernel traces which rule of which table decides it;
- `passed` (forward, last) counts the ones that went through: attempts - passed = blocked,
  exact, whatever the sample kept;
- each reading process adds chains `names_*_<group>` that copy the watched containers' DNS
  (queries and answers, rate-limited) to its own NFLOG group: a group has one reader.

Every process that reads holds a shared lock; the last one out removes the table. A table
nobody holds is an orphan (the orphan review lists it)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from coi_tui.eras.nft.cli import NftCli
from coi_tui.runtime.hostlock import lock_dir, open_lock_file
from coi_tui.services.traffic.attempts import Counts

FAMILY, TABLE = "inet", "coi_tui_traffic"
INPUT_CHAINS = frozenset({"to_host"})
LOCK = "coi-tui-traffic.lock"  # shared by every reader while it reads
SETUP = "coi-tui-traffic-setup.lock"  # exclusive, briefly: making or taking the table
READ = "read coi-tui's traffic table"
PER_SOURCE = "20/second burst 40 packets"  # one busy container cannot starve the others
OVERALL = "100/second burst 200 packets"  # what the trace reader is asked to parse at most
NAMES = "50/second burst 100 packets"
_SAMPLE = (f"update @sampled {{ ip saddr limit rate {PER_SOURCE} }} "
           f"limit rate {OVERALL} counter name traced meta nftrace set 1")


def table_script() -> str:
    """The whole table, replaced in one transaction (its counters start again)."""
    watch = "ct state new ip saddr {} counter name seen"
    return "\n".join((
        f"table {FAMILY} {TABLE}",
        f"delete table {FAMILY} {TABLE}",
        f"table {FAMILY} {TABLE} {{",
        "  set sources { type ipv4_addr; }",
        "  set watched { type ipv4_addr; counter; }",
        "  set passed { type ipv4_addr; counter; }",
        "  set sampled { type ipv4_addr; size 4096; flags dynamic,timeout; timeout 10s; }",
        "  counter seen {}",
        "  counter traced {}",
        "  chain attempts { type filter hook forward priority raw; policy accept;",
        f"    {watch.format('@watched')} {_SAMPLE}",
        "  }",
        "  chain to_host { type filter hook input priority raw; policy accept;",
        f"    {watch.format('@sources')} {_SAMPLE}",
        "  }",
        "  chain passed { type filter hook forward priority 500; policy accept;",
        "    ct state new ip saddr @passed",
        "  }",
        "}", ""))


def names_chains(group: int) -> dict[str, str]:
    """A reader's own chains: name -> hook."""
    return {f"names_in_{group}": "input", f"names_out_{group}": "output",
            f"names_fwd_{group}": "forward"}


def names_script(group: int) -> str:
    log = f"limit rate {NAMES} log group {group} snaplen 1500 queue-threshold 1"
    # @sources, not @watched: a lookup counts on the set's element
    rules = {"input": [f"ip saddr @sources udp dport 53 {log}"],
             "output": [f"ip daddr @sources udp sport 53 {log}"],
             "forward": [f"ip saddr @sources udp dport 53 {log}",
                         f"ip daddr @sources udp sport 53 {log}"]}
    lines = []
    for chain, hook in names_chains(group).items():
        lines.append(f"add chain {FAMILY} {TABLE} {chain} "
                     f"{{ type filter hook {hook} priority raw; policy accept; }}")
        lines += [f"add rule {FAMILY} {TABLE} {chain} {rule}" for rule in rules[hook]]
    return "\n".join(lines) + "\n"


def elements_script(have: Iterable[str], want: Iterable[str]) -> str:
    have, want = set(have), set(want)
    lines = []
    for name in ("sources", "watched", "passed"):
        for verb, change in (("add", want - have), ("delete", have - want)):
            if change:
                lines.append(f"{verb} element {FAMILY} {TABLE} {name} "
                             f"{{ {', '.join(sorted(change))} }}")
    return "\n".join(lines) + ("\n" if lines else "")


def counts_of(text: str) -> Counts:
    """`nft -j list table inet coi_tui_traffic` as counts."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return Counts()
    sets: dict[str, dict[str, int]] = {"watched": {}, "passed": {}}
    counters: dict[str, int] = {}
    items = document.get("nftables") if isinstance(document, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if "counter" in item:
            counter = item["counter"]
            counters[str(counter.get("name"))] = int(counter.get("packets", 0))
        elif "set" in item and item["set"].get("name") in sets:
            for elem in item["set"].get("elem", []):
                if isinstance(elem, dict) and "elem" in elem:
                    inner = elem["elem"]
                    sets[item["set"]["name"]][str(inner["val"])] = int(
                        inner.get("counter", {}).get("packets", 0))
    return Counts(attempts=sets["watched"], passed=sets["passed"],
                  seen=counters.get("seen", 0), traced=counters.get("traced", 0))


class TrafficTable:
    """The table's life as seen by one reading process."""

    def __init__(self, nft: NftCli, group: int, directory: Path | None = None) -> None:
        self.nft = nft
        self.group = group
        self._path = (directory or lock_dir()) / LOCK
        self._setup = (directory or lock_dir()) / SETUP
        self._fd: int | None = None

    def open(self, sources: Iterable[str]) -> None:
        """Hold the shared lock, create the table if it is missing, add this reader's
        chains and the watched addresses."""
        with self._setting_up():  # two readers starting together make it once
            self._fd = open_lock_file(self._path)
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            if self.nft.list_json("table", FAMILY, TABLE, action=READ) is None:
                self.nft.run_script(table_script(), action="create coi-tui's traffic table")
            self.nft.run_script(names_script(self.group), action="add the DNS name chains")
            self.watch(sources)

    @contextlib.contextmanager
    def _setting_up(self) -> Iterator[None]:
        fd = open_lock_file(self._setup)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def watch(self, sources: Iterable[str]) -> None:
        have = set(self.counts().attempts)
        script = elements_script(have, sources)
        if script:
            self.nft.run_script(script, action="update the watched addresses")

    def counts(self) -> Counts:
        output = self.nft.list_json("table", FAMILY, TABLE, action=READ)
        return counts_of(output) if output else Counts()

    def close(self) -> None:
        """Take this reader's chains out; the last reader out takes the table."""
        if self._fd is None:
            return
        with self._setting_up():
            try:
                script = "".join(f"delete chain {FAMILY} {TABLE} {chain}\n"
                                 for chain in names_chains(self.group))
                self.nft.run_script(script, action="remove the DNS name chains")
            finally:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass  # another reader still needs it
                else:
                    self.nft.run_script(f"delete table {FAMILY} {TABLE}\n",
                                        action="remove coi-tui's traffic table")
                os.close(self._fd)
                self._fd = None


def held_by_someone(directory: Path | None = None) -> bool:
    """Whether a reading coi-tui holds the table (for the orphan review)."""
    path = (directory or lock_dir()) / LOCK
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
