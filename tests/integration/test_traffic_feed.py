"""The attempt feed on the lab (firewalld era): what a restricted container tried, by name, with
the verdict and the rule that decided, within a second; a flood stays within the rate limit and
loses nothing else; watch keeps a history; a killed reader's table is an orphan; without the
rights it says so with the fix."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import lab_support as lab
from tests.integration.test_isolation_kept import Watch, clean, coi_tui, wait_for
from tests.traffic import build_prober, probing

pytestmark = pytest.mark.lab

WATCHED = ("coi-lab-tr1", "10.147.0.61")
OTHER = ("coi-lab-tr2", "10.147.0.62")
TABLE = ("inet", "coi_tui_traffic")


def table_watches(ip: str) -> bool:
    done = subprocess.run(["nft", "-j", "list", "set", *TABLE, "sources"], capture_output=True,
                          text=True, timeout=10)
    return done.returncode == 0 and f'"{ip}"' in done.stdout


def table_exists() -> bool:
    return subprocess.run(["nft", "list", "table", *TABLE], capture_output=True,
                          timeout=10).returncode == 0


@pytest.fixture(scope="module")
def restricted() -> Iterator[tuple[str, str]]:
    """A throwaway container in restricted mode (applied by coi-tui), and a bare second one."""
    lab.require_lab()
    with lab.launched(*WATCHED), lab.launched(*OTHER):
        try:
            done = coi_tui("apply", WATCHED[0], "--mode", "restricted")
            assert done.returncode == 0, done.stderr
            yield WATCHED
        finally:
            clean(WATCHED[0])


class Follow:
    """`coi-tui traffic --follow --json` as a user runs it; its lines, parsed, in a queue."""

    def __init__(self, *args: str, user: str | None = None, seconds: float = 60) -> None:
        argv = [sys.executable, "-m", "coi_tui", "traffic", "--follow", "--json",
                "--seconds", str(seconds), *args]
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: queue.Queue[tuple[float, dict[str, object]]] = queue.Queue()
        self.records: list[dict[str, object]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.monotonic(), json.loads(line)))

    def next(self, kind: str, timeout: float, **fields: object
             ) -> tuple[float, dict[str, object]]:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                at, record = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.records.append(record)
            if record.get("type") == kind and all(record.get(k) == v for k, v in fields.items()):
                return at, record
        raise AssertionError(f"no {kind} {fields} within {timeout}s; seen: {self.records[-5:]}")

    def next_attempt(self, destination: str, timeout: float) -> tuple[float, dict[str, object]]:
        return self.next("attempt", timeout, destination=destination)

    def started(self) -> list[str]:
        """Waits until the readers listen; the containers it watches."""
        _at, record = self.next("started", 20)
        watching = record["watching"]
        assert isinstance(watching, list)
        return watching

    def stop(self) -> tuple[list[dict[str, object]], str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)
        self._reader.join(timeout=10)  # stdout is the reader's to the end
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        while not self.lines.empty():
            self.records.append(self.lines.get()[1])
        return self.records, err


def test_a_restricted_containers_lan_attempts_show_rejected_within_a_second_by_rule(
        restricted: tuple[str, str]) -> None:
    name, ip = restricted
    follow = Follow(name)
    try:
        assert follow.started() == [name]
        for _ in range(5):
            assert not lab.http_get(name, lab.LAN_HOST, timeout=1)
            done = time.monotonic()
            seen, record = follow.next_attempt(lab.LAN_HOST, timeout=3)
            assert seen - done <= 1.0, f"shown {seen - done:.2f}s after the attempt"
            assert (record["container"], record["verdict"], record["why"], record["port"]) == (
                name, "rejected", "private range", 80)
            assert f"ip saddr {ip} ip daddr 192.168.0.0/16 reject # handle" in str(
                record["rule"])
            assert record["where"] == "ip filter FORWARD"
        code, _out = lab.exec_in(name, ["hget", "-T", "2", "http://www.lab.test/"])
        assert code == 0
        _at, reached = follow.next_attempt(lab.INTERNET_HOST, timeout=3)
        assert (reached["verdict"], reached["name"], reached["port"]) == (
            "reached", "www.lab.test", 80)
        asked = [r for r in follow.records if r.get("query") == "www.lab.test"]
        assert asked and asked[0]["to_host"] is True and asked[0]["port"] == 53
    finally:
        records, err = follow.stop()
    counts = [r for r in records if r.get("type") == "counts"][-1]
    blocked = counts["blocked"]
    assert isinstance(blocked, dict) and blocked[name] >= 5  # exact, from the kernel
    assert err == ""
    assert not table_exists()  # the last reader out took its table


def test_a_flood_stays_within_the_rate_limit_and_loses_nothing_else(
        restricted: tuple[str, str], tmp_path: Path) -> None:
    name, _ip = restricted
    other, _other_ip = OTHER
    prober = build_prober(tmp_path)
    follow = Follow()
    try:
        assert {name, other} <= set(follow.started())
        started = time.monotonic()
        with probing(name, prober, lab.LAN_HOST, seconds=3.0, period_us=250):
            time.sleep(1.5)
            assert lab.http_get(other, lab.LAN_HOST, timeout=2)  # bare: it reaches the LAN
        took = time.monotonic() - started
        follow.next_attempt(lab.LAN_HOST, timeout=5)
        time.sleep(2.5)  # one more reading of the counts
    finally:
        records, err = follow.stop()
    attempts = [r for r in records if r.get("type") == "attempt"]
    flood = [r for r in attempts if r["container"] == name]
    # 20/s per container with a burst of 40: what the feed shows of ~12,000 attempts
    assert 20 <= len(flood) <= 40 + 25 * took, len(flood)
    assert all(r["verdict"] == "rejected" and r["why"] == "private range" for r in flood)
    assert any(r["container"] == other and r["destination"] == lab.LAN_HOST
               and r["verdict"] == "reached" for r in attempts)  # the other one's attempt
    counts = [r for r in records if r.get("type") == "counts"][-1]
    blocked, limited = counts["blocked"], counts["limited"]
    assert isinstance(blocked, dict) and isinstance(limited, int)
    assert blocked[name] >= 10_000  # every one counted, exactly, by the kernel
    assert limited >= blocked[name] - len(flood) - 50
    assert err == ""


def test_watch_keeps_a_history_of_attempts_and_takes_its_table_away(
        restricted: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name, ip = restricted
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # the watch and the history reader share it
    watch = Watch(tmp_path)
    try:
        wait_for(lambda: "traffic: reading" in watch.text(), 15, "watch's feed reads")
        assert table_watches(ip)
        assert not lab.http_get(name, lab.METADATA_HOST, timeout=1)
        history = home / ".local/state/coi-tui/traffic.jsonl"
        wait_for(lambda: history.exists() and lab.METADATA_HOST in history.read_text(),
                 5, "the attempt in the history")
    finally:
        watch.stop()
    assert not table_exists()
    shown = coi_tui("traffic", name, "--json")
    assert shown.returncode == 0, shown.stderr
    kept = [json.loads(line) for line in shown.stdout.splitlines()]
    assert any(r["destination"] == lab.METADATA_HOST and r["why"] == "metadata"
               and r["schema"] == 1 for r in kept), kept
    text = coi_tui("traffic", name)
    assert "metadata" in text.stdout and "REJECTED" in text.stdout


def test_a_killed_readers_table_is_an_orphan_until_cleaned(
        restricted: tuple[str, str]) -> None:
    _name, ip = restricted
    follow = Follow()
    watching = follow.started()
    assert table_watches(ip), (watching, subprocess.run(["nft", "list", "table", *TABLE],
                                                        capture_output=True, text=True).stdout)
    follow.process.kill()
    follow.process.wait(timeout=10)
    assert table_exists()
    found = coi_tui("orphans", "--json")
    assert "inet coi_tui_traffic" in found.stdout, found.stdout
    cleaned = coi_tui("orphans", "--clean", "--yes")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert not table_exists()
    readers = subprocess.run(["pgrep", "-P", str(follow.process.pid)], capture_output=True)
    assert readers.stdout == b""  # its nft and tcpdump went with it


def test_without_the_rights_the_feed_says_not_readable_with_the_fix(
        restricted: tuple[str, str]) -> None:
    name, _ip = restricted
    # COI's user has sudo for nft (the trace), not for tcpdump (the names)
    follow = Follow(name, user=lab.LAB_USER, seconds=8)
    try:
        assert follow.started() == [name]
        assert not lab.http_get(name, lab.LAN_HOST, timeout=1)
        _at, record = follow.next_attempt(lab.LAN_HOST, timeout=3)
        assert record["why"] == "private range"
    finally:
        _records, err = follow.stop()
    assert "not readable: DNS names" in err and "NOPASSWD" in err and "tcpdump" in err
    # no sudo at all: nothing is readable, one line with the fix, exit 1
    nobody = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-m", "coi_tui",
                             "traffic", "--follow", "--seconds", "3"],
                            capture_output=True, text=True, timeout=60)
    assert nobody.returncode == 1
    lines = nobody.stderr.strip().splitlines()
    assert len(lines) == 1 and "not readable" in lines[0] and "NOPASSWD" in lines[0]
    assert "Traceback" not in nobody.stderr
