"""The lab itself: `up` is idempotent, and recovers after everything it started was SIGKILLed.

Runs last (its own pytest run in scripts/test): it takes the whole stack down hard.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests import lab_support as lab

DAEMONS = ("dbus", "firewalld", "incusd", "dns", "httpd-inet", "httpd-lan", "httpd-meta")


def recorded_pids() -> dict[str, int]:
    pids = {}
    for name in DAEMONS:
        path = lab.LAB_STATE / f"{name}.pid"
        if path.exists():
            pids[name] = int(path.read_text().strip())
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # PID 1 here reaps lazily: a zombie is gone


def children(pid: int) -> list[int]:
    out = lab.run("ps", "-o", "pid=", "--ppid", str(pid), check=False).stdout
    return [int(p) for p in out.split()]


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def everything_up_started() -> set[int]:
    """The recorded daemons, incusd's helpers (dnsmasq...), each container's init and its
    monitor, and the polkitd our bus activated."""
    pids = set(recorded_pids().values())
    incusd = recorded_pids()["incusd"]
    pids.update(children(incusd))
    for name in lab.CONTAINERS:
        init = json.loads(lab.incus("query", f"/1.0/instances/{name}/state"))["pid"]
        pids.update({init, parent(init)})
    polkit = lab.run(
        "dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus", "org.freedesktop.DBus.GetConnectionUnixProcessID",
        "string:org.freedesktop.PolicyKit1", check=False,
    ).stdout.split()
    if polkit:
        pids.add(int(polkit[-1]))
    return {p for p in pids if p > 1 and alive(p)}


def test_a_second_up_is_a_quick_no_op() -> None:
    lab.require_lab()
    before = recorded_pids()
    result = lab.run(str(lab.LAB), "up", timeout=120)
    assert recorded_pids() == before, "a second up must not restart anything"
    assert all(alive(p) for p in before.values())
    assert "TOTAL" in result.stdout


def test_up_recovers_after_everything_it_started_was_sigkilled() -> None:
    lab.require_lab()
    victims = everything_up_started()
    assert len(victims) >= len(DAEMONS) + 2 * len(lab.CONTAINERS)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in victims) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in victims)
    lab.run(str(lab.LAB), "up", timeout=300)
    lab.require_lab()
    for name in lab.CONTAINERS:
        assert lab.container_ip(name)
    assert lab.http_get(lab.CONTAINERS[0], lab.INTERNET_HOST)
