"""The live attempt feed: coi-tui's table, two readers, one ticker; updates go to a sink.

Readers are the kernel's own tools, run as child processes: `nft monitor trace` (which rule of
which table decided each sampled attempt) and `tcpdump -i nflog:<group>` (the DNS the watched
containers asked and were answered: names). Both need root or a sudoers line; without them
the feed says "not readable" with the fix and nothing else changes. Off the UI thread: the
sink is called from the ticker thread."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pty
import shutil
import signal
import subprocess
import threading
import time
import tty as tty_module
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from coi_tui.eras.nft.cli import NftCli
from coi_tui.errors import CoiTuiError
from coi_tui.models import Inventory, Mode
from coi_tui.services.dns.cache import CacheError, cache_path, load_cache
from coi_tui.services.traffic.attempts import Attempt, Counts
from coi_tui.services.traffic.dns_log import DnsSeen, read_stream
from coi_tui.services.traffic.names import NameBook
from coi_tui.services.traffic.table import INPUT_CHAINS, TABLE, TrafficTable
from coi_tui.services.traffic.trace import TraceAssembler

TICK = 0.25  # seconds between flushes of finished traces
HOLD = 0.4  # an attempt waits this long for its DNS query's name before it is shown
COUNTS_EVERY = 2.0  # seconds between reads of the kernel's counts (each is one nft exec)
COUNTS_HIDDEN = 10.0  # the same while nobody looks at them (the TUI on another view)
PR_SET_PDEATHSIG = 1  # prctl(2)
GROUP_BASE = 4200  # NFLOG groups coi-tui readers use: GROUP_BASE + pid % 60000


@dataclass(frozen=True)
class Watched:
    sources: Mapping[str, str] = field(default_factory=dict)  # IPv4 -> container name
    modes: Mapping[str, str | None] = field(default_factory=dict)  # container -> mode
    pinned: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # IPv4 -> {ip: name}


@dataclass(frozen=True)
class FeedUpdate:
    attempts: tuple[Attempt, ...] = ()
    counts: Counts | None = None
    problem: str | None = None  # the feed is not readable: why, and the fix
    note: str | None = None  # it reads attempts, without names: why, and the fix
    started: bool = False  # the readers listen: from here on no attempt is missed


class RuleTexts:
    """Rules the trace names by handle only, read from the kernel (a chain at a time) and
    kept: a flood rejected by one rule costs one read."""

    def __init__(self, nft: NftCli) -> None:
        self._nft = nft
        self._known: dict[tuple[str, str, str, int], str] = {}

    def __call__(self, family: str, table: str, chain: str, handle: int) -> str | None:
        key = (family, table, chain, handle)
        if key not in self._known:
            try:
                text = self._nft.list_text("chain", family, table, chain,
                                           action=f"read the rule that decided ({table})")
            except CoiTuiError:
                return None
            for line in (text or "").splitlines():
                body, _, number = line.strip().rpartition(" # handle ")
                if number.isdigit() and body:
                    self._known[(family, table, chain, int(number))] = body
        return self._known.get(key)


def fix_line() -> str:
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "USER"
    nft = shutil.which("nft") or "/usr/sbin/nft"
    tcpdump = shutil.which("tcpdump") or "/usr/bin/tcpdump"
    return (f"fix: run as root, or add to /etc/sudoers.d/coi-tui: "
            f"{user} ALL=(ALL) NOPASSWD: {nft}, {tcpdump}")


def _end_with_parent() -> None:
    """In the child, before exec: a SIGTERM when coi-tui dies, even by SIGKILL, so that a
    killed coi-tui leaves no reader behind. Root only: exec of setuid sudo clears it (a
    reader under sudo ends at its next write into the closed pipe)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _lines(terminal: IO[bytes]) -> Iterator[bytes]:
    """A pseudo-terminal's lines until its writer is gone (EIO, not EOF, on Linux)."""
    pending = b""
    while True:
        try:
            chunk = terminal.read(65536)
        except OSError:
            return
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines


def _listening(child: subprocess.Popen[bytes], timeout: float = 3.0) -> None:
    """Until tcpdump says it listens (or fails, or `timeout`): by then the trace reader,
    started before it, listens too."""
    assert child.stderr is not None
    ready = threading.Event()

    def first_line() -> None:
        assert child.stderr is not None
        child.stderr.readline()
        ready.set()

    threading.Thread(target=first_line, daemon=True).start()
    ready.wait(timeout)


def _privileged(tool: str) -> list[str]:
    path = shutil.which(tool) or tool
    return [path] if os.geteuid() == 0 else ["sudo", "-n", path]


class TrafficFeed:
    def __init__(self, sink: Callable[[FeedUpdate], None], nft: NftCli | None = None,
                 clock: Callable[[], float] = time.time,
                 counts_every: float | None = COUNTS_EVERY) -> None:
        """`counts_every`: seconds between reads of the kernel's counts (None: never, as
        watch's history needs none)."""
        self._sink = sink
        self.counts_every = counts_every  # the TUI reads them often only while they show
        self._clock = clock
        self.group = GROUP_BASE + os.getpid() % 60000
        self._table = TrafficTable(nft or NftCli(), self.group)
        self._watched = Watched()
        self._lock = threading.Lock()
        self._names = NameBook()
        self._queries: dict[tuple[str, int], tuple[str, float]] = {}
        self._held: list[Attempt] = []
        self._rules = RuleTexts(self._table.nft)
        self._assembler = TraceAssembler(self._watched.sources.get, self._mode_of, TABLE,
                                         INPUT_CHAINS, self._rules)
        self._children: list[subprocess.Popen[bytes]] = []
        self._ttys: dict[int, IO[bytes]] = {}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._opened = False
        self._writing = threading.Lock()  # the watched addresses, into the table
        self._written: frozenset[str] = frozenset()
        self.problem: str | None = None
        self.note: str | None = None

    @property
    def running(self) -> bool:
        """The trace reader reads (names may be missing: `note`)."""
        return (self._opened and bool(self._children)
                and self._children[0].poll() is None)

    def counts(self) -> Counts | None:
        """The kernel's counts now (None: the table is not readable)."""
        try:
            return self._table.counts() if self._opened else None
        except CoiTuiError:
            return None

    def name_of(self, source: str, destination: str) -> str | None:
        """What `destination` was for, from `source`'s own answers (or COI's pins)."""
        with self._lock:
            return self._names.name(source, destination)

    @property
    def watched(self) -> Watched:
        return self._watched

    def _mode_of(self, container: str) -> str | None:
        return self._watched.modes.get(container)

    def watch(self, watched: Watched) -> None:
        """Follow what runs now; the table is touched only when the addresses changed."""
        with self._lock:
            self._watched = watched
            self._assembler.container_of = watched.sources.get
            for source, names in watched.pinned.items():
                self._names.pin(source, names)
            self._names.forget(set(watched.sources))
        self._sync()

    def _sync(self) -> None:
        with self._writing:
            want = frozenset(self._watched.sources)
            if not self._opened or want == self._written:
                return
            try:
                self._table.watch(want)
            except CoiTuiError as error:
                self._report(f"not readable: {error}")
                return
            self._written = want

    def start(self) -> None:
        """Readers first, then the table: no attempt is marked before they listen."""
        try:
            self._table.nft.list_tables()  # no rights: say so before anything runs
            trace = self._spawn([*_privileged("nft"), "-a", "monitor", "trace"], tty=True)
            # -Z root: no switch to user tcpdump, which would clear the parent-death signal
            # (it only writes raw frames to the pipe, it dissects nothing)
            names = self._spawn([*_privileged("tcpdump"), "-i", f"nflog:{self.group}", "-U",
                                 "--immediate-mode", "-Z", "root", "-w", "-", "-s", "0",
                                 "-q"])
            _listening(names)
            with self._writing:
                self._written = frozenset(self._watched.sources)
                self._table.open(self._written)
        except FileNotFoundError as error:
            self._fail(f"not readable: {error.filename} not found; {fix_line()}")
            return
        except CoiTuiError as error:
            # the first clause: nft's own fix names nft only, the feed needs tcpdump too
            self._fail(f"not readable: {str(error).split('; ')[0]}; {fix_line()}")
            return
        self._opened = True
        self._sync()  # what changed while it opened
        self._sink(FeedUpdate(started=True))
        self._run(self._read_trace, trace)
        self._run(self._read_names, names)
        self._run(self._tick, None)

    def stop(self) -> None:
        self._stop.set()
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        for child in self._children:
            try:
                child.wait(timeout=3)
            except subprocess.TimeoutExpired:
                child.kill()
        for thread in self._threads:
            thread.join(timeout=3)
        if self._opened:
            self._opened = False
            with contextlib.suppress(CoiTuiError):  # left behind: the orphan review lists it
                self._table.close()

    # ------------------------------------------------------------------ threads
    def _fail(self, problem: str) -> None:
        self._stop.set()
        for child in self._children:
            child.terminate()
            child.wait(timeout=5)
        self._report(problem)

    def _spawn(self, argv: list[str], *, tty: bool = False) -> subprocess.Popen[bytes]:
        """`tty`: its stdout is a pseudo-terminal (read from `self._ttys`), so that its stdio
        writes each line at once: nft buffers a pipe by 4 KiB, and a drop that waits in its
        buffer would read as an attempt that went through."""
        stdout: int = subprocess.PIPE
        if tty:
            master, stdout = pty.openpty()
            tty_module.setraw(stdout)  # no echo, no \r\n
        child = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, preexec_fn=_end_with_parent,
                                 start_new_session=True)  # a terminal's ^C is coi-tui's
        if tty:
            os.close(stdout)
            self._ttys[child.pid] = os.fdopen(master, "rb", buffering=0)
        self._children.append(child)
        return child

    def _run(self, target: Callable[[subprocess.Popen[bytes] | None], None],
             child: subprocess.Popen[bytes] | None) -> None:
        thread = threading.Thread(target=target, args=(child,), daemon=True,
                                  name=f"traffic-{target.__name__}")
        self._threads.append(thread)
        thread.start()

    def _read_trace(self, child: subprocess.Popen[bytes] | None) -> None:
        assert child is not None
        with self._ttys.pop(child.pid) as terminal:
            for raw in _lines(terminal):
                line = raw.decode("utf-8", "replace")
                with self._lock:
                    self._held += self._assembler.feed(line, self._clock())
        self._ended(child, "the rule trace (nft monitor trace)", fatal=True)

    def _read_names(self, child: subprocess.Popen[bytes] | None) -> None:
        assert child is not None and child.stdout is not None
        stream: IO[bytes] = child.stdout
        for seen in read_stream(stream):
            self._learn(seen)
        self._ended(child, "DNS names (tcpdump on NFLOG)", fatal=False)

    def _learn(self, seen: DnsSeen) -> None:
        now = self._clock()
        with self._lock:
            self._names.learn(seen)
            if not seen.is_answer:
                self._queries[(seen.client, seen.port)] = (seen.query, now)

    def _ended(self, child: subprocess.Popen[bytes], what: str, *, fatal: bool) -> None:
        if self._stop.is_set():
            return
        child.wait()
        error = (child.stderr.read().decode("utf-8", "replace") if child.stderr else "")
        reason = next((line.strip() for line in error.splitlines()
                       if "error" in line.lower() or "sudo" in line.lower()
                       or "permitted" in line.lower()), error.strip()[:200])
        line = f"not readable: {what} ({reason or f'exit {child.returncode}'}); {fix_line()}"
        if fatal:
            self._report(line)
        else:
            self.note = line
            self._sink(FeedUpdate(note=line))

    def _report(self, problem: str) -> None:
        self.problem = problem
        self._sink(FeedUpdate(problem=problem))

    def _tick(self, _child: subprocess.Popen[bytes] | None) -> None:
        counted_at = float("-inf")
        while not self._stop.wait(TICK):
            now = self._clock()
            with self._lock:
                self._held += self._assembler.flush(now)
                ready = [a for a in self._held if now - a.at >= HOLD]
                self._held = [a for a in self._held if now - a.at < HOLD]
                attempts = tuple(self._named(a) for a in ready)
                self._queries = {k: v for k, v in self._queries.items() if now - v[1] < 10}
            counts = None
            every = self.counts_every  # read each time: the TUI changes it
            if every is not None and now - counted_at >= every:
                counted_at = now
                try:
                    counts = self._table.counts()
                except CoiTuiError as error:
                    self._report(f"not readable: {error}")
            if attempts or counts is not None:
                self._sink(FeedUpdate(attempts=attempts, counts=counts))

    def _named(self, attempt: Attempt) -> Attempt:
        query = None
        if attempt.port == 53 and attempt.sport is not None:
            asked = self._queries.get((attempt.source, attempt.sport))
            query = asked[0] if asked else None
        return replace(attempt, query=query,
                       name=query or self._names.name(attempt.source, attempt.destination))


def watched_from(inventory: Inventory, home: Path | None = None) -> Watched:
    """The running containers with an IPv4, each with its recorded mode, and for allowlist
    ones the names COI pinned for them (its IP cache)."""
    home = home or Path.home()
    sources: dict[str, str] = {}
    modes: dict[str, str | None] = {}
    pinned: dict[str, Mapping[str, str]] = {}
    for state in inventory.containers:
        container = state.container
        if container.ipv4 is None or container.status.lower() != "running":
            continue
        sources[container.ipv4] = container.name
        modes[container.name] = str(state.mode) if state.mode else None
        if state.mode is Mode.ALLOWLIST:
            pinned[container.ipv4] = _pinned_names(container.name, home)
    return Watched(sources, modes, pinned)


def _pinned_names(container: str, home: Path) -> dict[str, str]:
    try:
        cache = load_cache(cache_path(container, home))
    except CacheError:
        return {}
    return {ip: name for name, ips in cache.domains.items() for ip in ips}
