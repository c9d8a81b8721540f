"""The container's /etc/hosts as COI ≥ 0.11 writes it (docs/coi-nft-era.md §4.5), byte for byte.
The text is pure; `HostsBlockStep` (a plan step) runs `coi_script` in the container through
an exec (backends/container_exec.py) and reads the file back to verify.

COI's `internal/network/hosts.go` (coipond/coi @ 45c62ea2, unchanged since the 0.11 work in
mensfeld/code-on-incus @ 75f41523) keeps two managed blocks:

    # BEGIN coi allowlist (managed by coi — edits will be overwritten)
    <ip>\\t<domain>            one line per address; domains sorted, each one's ips sorted
    # END coi allowlist
    # BEGIN coi hosts (managed by coi — edits will be overwritten)
    <ip>\\t<name1> <name2>     [[network.hosts]]; entries sorted by ip, names sorted
    # END coi hosts

Sorting is Go's `sort.Strings`: byte order of the text, so `203.0.113.100` comes before
`203.0.113.20`. A block is rewritten in place (`cat "$tmp" > /etc/hosts`: the inode,
owner and mode stay) by a shell script that strips every well-formed block with awk and
appends the new one at the end of the file, so the block written last comes last.

What a block names is what COI's setup or refresh just resolved (`syncResolved` writes the
same `domainIPs` it put into the set): after DNS moves, the old address stays in the nft set
(elements are permanent) but the block names only the new answers ("frozen /etc/hosts ⊆
permanent set").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from coi_tui.backends.base import FirewallBackend
from coi_tui.backends.container_exec import ContainerShell, IncusExec
from coi_tui.errors import BackendUnavailable, CoiTuiError
from coi_tui.models import Container, HostEntry
from coi_tui.plans import PlanLine, Present

ALLOWLIST_BEGIN = "# BEGIN coi allowlist (managed by coi \u2014 edits will be overwritten)"
ALLOWLIST_END = "# END coi allowlist"
HOSTS_BEGIN = "# BEGIN coi hosts (managed by coi \u2014 edits will be overwritten)"
HOSTS_END = "# END coi hosts"
HOSTS_PATH = "/etc/hosts"


@dataclass(frozen=True)
class Block:
    """One managed block: its markers and its text (markers included, no final newline,
    exactly as COI's render functions return it)."""

    kind: str  # "allowlist" or "hosts"
    begin: str
    end: str
    text: str

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.text.split("\n"))

    @property
    def entries(self) -> tuple[str, ...]:
        """The lines between the markers."""
        return self.lines[1:-1]


def render_allowlist_block(answers: Mapping[str, Iterable[str]]) -> str:
    """COI's renderHostsBlock: `<ip>\\t<domain>` per address, domains then ips sorted."""
    lines = [ALLOWLIST_BEGIN]
    for domain in sorted(answers):
        lines += [f"{ip}\t{domain}" for ip in sorted(answers[domain])]
    lines.append(ALLOWLIST_END)
    return "\n".join(lines)


def render_hosts_block(entries: Iterable[HostEntry]) -> str:
    """COI's renderUserHostsBlock: `<ip>\\t<names sorted, space-separated>`, sorted by ip."""
    lines = [HOSTS_BEGIN]
    for entry in sorted(entries, key=lambda e: e.ip):
        lines.append(f"{entry.ip}\t{' '.join(sorted(entry.hostnames))}")
    lines.append(HOSTS_END)
    return "\n".join(lines)


def allowlist_block(answers: Mapping[str, Iterable[str]]) -> Block:
    return Block("allowlist", ALLOWLIST_BEGIN, ALLOWLIST_END, render_allowlist_block(answers))


def hosts_block(entries: Iterable[HostEntry]) -> Block:
    return Block("hosts", HOSTS_BEGIN, HOSTS_END, render_hosts_block(entries))


def shell_single_quote(text: str) -> str:
    """COI's shellSingleQuote."""
    return "'" + text.replace("'", "'\\''") + "'"


def coi_script(block: Block, path: str = HOSTS_PATH) -> str:
    """The very script COI's replaceManagedHostsBlock runs in the container (`path` is only
    ever changed by tests)."""
    return (
        "set -e\n"
        "tmp=$(mktemp)\n"
        f"awk -v b={shell_single_quote(block.begin)} -v e={shell_single_quote(block.end)} '\n"
        "  index($0, b) == 1 { inblock = 1; buf = $0 ORS; next }\n"
        "  inblock && index($0, e) == 1 { inblock = 0; buf = \"\"; next }\n"
        "  inblock { buf = buf $0 ORS; next }\n"
        "  { print }\n"
        "  END { if (inblock) printf \"%s\", buf }\n"
        f"' {path} > \"$tmp\"\n"
        "cat >> \"$tmp\" <<'COI_HOSTS_EOF'\n"
        f"{block.text}\n"
        "COI_HOSTS_EOF\n"
        f"cat \"$tmp\" > {path}\n"
        "rm -f \"$tmp\"\n"
    )


def _records(text: str) -> list[str]:
    """awk's records: lines without their newline; a last line without one still counts."""
    records = text.split("\n")
    if records and records[-1] == "":
        records.pop()
    return records


def replace_block(text: str, block: Block) -> str:
    """What `coi_script` leaves in a file that held `text` (the awk, line for line): every
    terminated block with these markers goes, an unterminated one stays as it was, and the
    new block is appended with a final newline."""
    out: list[str] = []
    inblock, buf = False, ""
    for record in _records(text):
        if record.startswith(block.begin):
            inblock, buf = True, record + "\n"
            continue
        if inblock and record.startswith(block.end):
            inblock, buf = False, ""
            continue
        if inblock:
            buf += record + "\n"
            continue
        out.append(record + "\n")
    if inblock:
        out.append(buf)
    return "".join(out) + block.text + "\n"


def find_block(text: str, begin: str, end: str) -> tuple[str, ...] | None:
    """The lines between the first terminated block's markers; None when there is none."""
    inside: list[str] | None = None
    for record in _records(text):
        if record.startswith(begin):
            inside = []
        elif inside is not None and record.startswith(end):
            return tuple(inside)
        elif inside is not None:
            inside.append(record)
    return None


def has_block(text: str, block: Block) -> bool:
    """The file holds exactly this block (the first terminated one with its markers)."""
    return find_block(text, block.begin, block.end) == block.entries


def allowlist_names(text: str) -> dict[str, tuple[str, ...]] | None:
    """domain -> the addresses the allowlist block names; None when the file has no block."""
    lines = find_block(text, ALLOWLIST_BEGIN, ALLOWLIST_END)
    if lines is None:
        return None
    names: dict[str, list[str]] = {}
    for line in lines:
        fields = line.split()
        if len(fields) >= 2:
            for name in fields[1:]:
                names.setdefault(name, []).append(fields[0])
    return {name: tuple(ips) for name, ips in names.items()}


# ------------------------------------------------------------------ in the container
ShellFactory = Callable[[], ContainerShell]


def read_hosts(shell: ContainerShell, container: Container, path: str = HOSTS_PATH) -> str:
    done = shell.run(container, ["cat", path])
    if done.returncode != 0:
        raise BackendUnavailable(f"{container.name}: cannot read {path}: "
                                 f"{done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def write_block(shell: ContainerShell, container: Container, block: Block,
                path: str = HOSTS_PATH) -> None:
    done = shell.run(container, ["sh", "-c", coi_script(block, path)])
    if done.returncode != 0:
        raise BackendUnavailable(
            f"{container.name}: failed to write the coi {block.kind} block of {path}: "
            f"{done.stderr.strip() or f'exit {done.returncode}'}")


def container_hosts(container: Container, shell: ShellFactory = IncusExec) -> str:
    """The container's /etc/hosts now (one exec)."""
    runner = shell()
    try:
        return read_hosts(runner, container)
    finally:
        runner.close()


@dataclass(frozen=True)
class HostsBlockStep:
    """A plan step: one managed block of a container's /etc/hosts rewritten as COI does it
    (its script, in place), after the firewall step of the same plan; verified by reading
    the file back. Its lines are the block's, so the review shows what the file will say."""

    target: Container
    block: Block
    why: str = ""
    shell: ShellFactory = field(default=IncusExec, compare=False, repr=False)

    @property
    def container(self) -> str | None:
        return self.target.name

    def __str__(self) -> str:
        return f"{HOSTS_PATH} of {self.target.name}: coi {self.block.kind} block"

    def lines(self) -> tuple[PlanLine, ...]:
        name = self.target.name
        entries = self.block.entries
        head = PlanLine("write", f"{HOSTS_PATH} of {name}, in place: {self.block.begin} "
                                 f"({len(entries)} line(s))", name)
        return (head, *(PlanLine("write", f"{HOSTS_PATH}: {line}", name) for line in entries))

    def label(self) -> str:
        return f"{self.target.name}: rewrite {self.block.begin} in {HOSTS_PATH}"

    def skip_reason(self) -> str:
        return ""

    def run(self, firewall: FirewallBackend) -> str:
        runner = self.shell()
        try:
            write_block(runner, self.target, self.block)
        finally:
            runner.close()
        return f"{HOSTS_PATH} rewritten in place, {len(self.block.entries)} line(s)"

    def verify(self, present: Present) -> tuple[str, ...]:
        try:
            text = container_hosts(self.target, self.shell)
        except CoiTuiError as error:
            return (f"{self}: could not read it back: {error}",)
        if has_block(text, self.block):
            return ()
        return (f"{self}: the file does not hold the block as written",)
